package main

import (
	"encoding/json"
	"os"
	"slices"
	"sort"
	"strconv"
)

// figure is one number in the JSON output.
type figure struct {
	Workload string  `json:"workload"`
	Impl     string  `json:"impl"`
	Metric   string  `json:"metric"`
	Value    float64 `json:"value"`
	Unit     string  `json:"unit"`
}

// series is every repetition's value of one metric of one implementation
// on one workload.
type series struct {
	workload, impl, metric, unit string
	vals                         []float64
}

type seriesKey struct{ workload, impl, metric string }

type results struct {
	list      []*series
	byKey     map[seriesKey]*series
	workloads []string // in the order run
}

func newResults() *results { return &results{byKey: map[seriesKey]*series{}} }

func (r *results) add(workload, impl, metric, unit string, v float64) {
	k := seriesKey{workload, impl, metric}
	s := r.byKey[k]
	if s == nil {
		s = &series{workload: workload, impl: impl, metric: metric, unit: unit}
		r.byKey[k] = s
		r.list = append(r.list, s)
		if !slices.Contains(r.workloads, workload) {
			r.workloads = append(r.workloads, workload)
		}
	}
	s.vals = append(s.vals, v)
}

// stat returns the median, minimum and maximum of a series.
func (r *results) stat(workload, impl, metric string) (med, lo, hi float64, ok bool) {
	s := r.byKey[seriesKey{workload, impl, metric}]
	if s == nil || len(s.vals) == 0 {
		return 0, 0, 0, false
	}
	v := append([]float64(nil), s.vals...)
	sort.Float64s(v)
	n := len(v)
	med = v[n/2]
	if n%2 == 0 {
		med = (v[n/2-1] + v[n/2]) / 2
	}
	return med, v[0], v[n-1], true
}

func (r *results) median(workload, impl, metric string) (float64, bool) {
	m, _, _, ok := r.stat(workload, impl, metric)
	return m, ok
}

// repRatios is ours ÷ alt for a metric within each repetition, nil unless
// both have a value for every repetition. Within a repetition the
// implementations run one after the other, so a state of the machine that
// lasts minutes (this one has them) weighs on both sides of such a ratio,
// where it may fall on one side only of a ratio of medians.
func (r *results) repRatios(workload, ours, alt, metric string) []float64 {
	a := r.byKey[seriesKey{workload, ours, metric}]
	b := r.byKey[seriesKey{workload, alt, metric}]
	if a == nil || b == nil || len(a.vals) != len(b.vals) {
		return nil
	}
	q := make([]float64, len(a.vals))
	for i, v := range a.vals {
		if b.vals[i] == 0 {
			return nil
		}
		q[i] = v / b.vals[i]
	}
	return q
}

// impls lists the implementations measured on a workload, in run order.
func (r *results) impls(workload string) []string {
	var out []string
	for _, s := range r.list {
		if s.workload == workload && !slices.Contains(out, s.impl) {
			out = append(out, s.impl)
		}
	}
	return out
}

// figures flattens everything: per series the median, minimum, maximum
// and every repetition (metric names suffixed ".min", ".max", ".rep1", ...).
func (r *results) figures() []figure {
	var out []figure
	for _, s := range r.list {
		med, lo, hi, _ := r.stat(s.workload, s.impl, s.metric)
		f := figure{Workload: s.workload, Impl: s.impl, Metric: s.metric, Value: med, Unit: s.unit}
		out = append(out, f)
		f.Metric, f.Value = s.metric+".min", lo
		out = append(out, f)
		f.Metric, f.Value = s.metric+".max", hi
		out = append(out, f)
		for i, v := range s.vals {
			f.Metric, f.Value = s.metric+".rep"+strconv.Itoa(i+1), v
			out = append(out, f)
		}
	}
	return out
}

func (r *results) writeJSON(path string) error {
	b, err := json.MarshalIndent(r.figures(), "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

package main

import (
	"math"
	"testing"
)

func TestHistogram(t *testing.T) {
	var h histogram
	for v := int64(1); v <= 100000; v++ {
		h.record(v * 100) // 100 ns .. 10 ms, uniform
	}
	for _, p := range []float64{0.5, 0.9, 0.99} {
		got, want := float64(h.percentile(p)), p*1e7
		if math.Abs(got-want)/want > 0.04 {
			t.Errorf("p%v = %v, want about %v", p*100, got, want)
		}
	}
	for v := int64(0); v < 1<<40; v = v*3 + 1 {
		if got := histValue(histIndex(v)); math.Abs(float64(got-v)) > float64(v)/histSub+1 {
			t.Errorf("bucket of %d has value %d", v, got)
		}
	}
}

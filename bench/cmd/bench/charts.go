package main

import (
	"fmt"
	"html"
	"os"
	"path/filepath"
	"strings"
)

// SVG charts: horizontal grouped bars, one group per workload, one bar per
// implementation, each labelled with its value.

type chart struct{ title, path string }

type chartSpec struct {
	file, title, note string
	prefix, metric    string
	baseline          string // divide by this implementation's median; "" for absolute values
}

var chartSpecs = []chartSpec{
	{"echo-throughput.svg", "TCP echo: messages/s relative to the C epoll floor", "higher is better; 1.0 = C floor", "echo", "msgs/s", "c-epoll"},
	{"echo-cpu.svg", "TCP echo: server CPU time per message relative to the C epoll floor", "lower is better; 1.0 = C floor", "echo", "cpu/msg", "c-epoll"},
	{"http.svg", "HTTP/1.1 plaintext under wrk: requests/s", "higher is better", "http", "req/s", ""},
	{"idle.svg", "Idle connections: server RSS bytes per connection", "lower is better", "idle", "rss/conn", ""},
	{"timers.svg", "Timers: operations/s", "higher is better", "timers", "", ""},
	{"wakeups.svg", "Cross-goroutine wake-ups: per second", "higher is better", "wake-ups throughput", "wakes/s", ""},
	{"wakeup-latency.svg", "Cross-goroutine wake-up latency, p50 µs", "lower is better", "wake-ups latency", "p50", ""},
}

var palette = []string{"#1f77b4", "#2ca02c", "#ff7f0e", "#d62728", "#9467bd", "#8c564b", "#e377c2"}

func (r *runner) writeCharts(dir string) ([]chart, error) {
	var out []chart
	for _, cs := range chartSpecs {
		svg := r.chartSVG(cs)
		if svg == "" {
			continue
		}
		p := filepath.Join(dir, cs.file)
		if err := os.WriteFile(p, []byte(svg), 0o644); err != nil {
			return nil, err
		}
		out = append(out, chart{cs.title, p})
	}
	return out, nil
}

type bar struct {
	label string
	value float64
	color string
}

func (r *runner) chartSVG(cs chartSpec) string {
	var ws []string
	for _, w := range r.res.workloads {
		if strings.HasPrefix(w, cs.prefix) {
			ws = append(ws, w)
		}
	}
	colors := map[string]string{}
	type grp struct {
		name string
		bars []bar
	}
	var gs []grp
	top := 0.0
	for _, w := range ws {
		g := grp{name: w}
		for _, impl := range r.res.impls(w) {
			metric := cs.metric
			if metric == "" { // timers: whichever rate the workload has
				for _, m := range []string{"timers/s", "rearms/s"} {
					if _, ok := r.res.median(w, impl, m); ok {
						metric = m
					}
				}
			}
			v, ok := r.res.median(w, impl, metric)
			if !ok {
				continue
			}
			if cs.baseline != "" {
				b, ok := r.res.median(w, cs.baseline, metric)
				if !ok || b == 0 {
					continue
				}
				v /= b
			}
			if colors[impl] == "" {
				colors[impl] = palette[len(colors)%len(palette)]
			}
			g.bars = append(g.bars, bar{impl, v, colors[impl]})
			top = max(top, v)
		}
		if len(g.bars) > 0 {
			gs = append(gs, g)
		}
	}
	if len(gs) == 0 || top <= 0 {
		return ""
	}
	const (
		left, barW, barH, gap, labelW = 250, 420, 16, 3, 90
		width                         = left + barW + labelW
	)
	var b strings.Builder
	y := 50
	for _, g := range gs {
		y += 20 + len(g.bars)*(barH+gap) + 10
	}
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", width, y+10)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="10" y="20" font-size="15" font-weight="bold">%s</text>`+"\n", html.EscapeString(cs.title))
	fmt.Fprintf(&b, `<text x="10" y="38" fill="#555">%s</text>`+"\n", html.EscapeString(cs.note))
	if cs.baseline != "" {
		x := left + int(float64(barW)/top)
		fmt.Fprintf(&b, `<line x1="%d" y1="45" x2="%d" y2="%d" stroke="#888" stroke-dasharray="4,3"/>`+"\n", x, x, y)
	}
	y = 50
	for _, g := range gs {
		y += 16
		fmt.Fprintf(&b, `<text x="10" y="%d" font-weight="bold">%s</text>`+"\n", y, html.EscapeString(g.name))
		y += 4
		for _, br := range g.bars {
			w := int(float64(barW) * br.value / top)
			fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">%s</text>`, left-6, y+barH-4, html.EscapeString(br.label))
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="%s"/>`, left, y, max(w, 1), barH, br.color)
			fmt.Fprintf(&b, `<text x="%d" y="%d">%s</text>`+"\n", left+w+4, y+barH-4, fmtValue(br.value))
			y += barH + gap
		}
		y += 10
	}
	b.WriteString("</svg>\n")
	return b.String()
}

package main

import (
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
)

// Reporting: the ratio table (this library ÷ each alternative), the bar,
// the Markdown report and its SVG charts, all from one results set.

// metricInfo says which way is better and how to print a metric.
var metricInfo = map[string]struct {
	higherBetter bool
	label        string
}{
	"msgs/s":   {true, "msgs/s"},
	"req/s":    {true, "req/s"},
	"timers/s": {true, "timers/s"},
	"rearms/s": {true, "re-arms/s"},
	"wakes/s":  {true, "wake-ups/s"},
	"conns/s":  {true, "connections/s"},
	"cpu/msg":  {false, "server CPU µs/msg"},
	"cpu/req":  {false, "server CPU µs/req"},
	"cpu/conn": {false, "server CPU µs/conn"},
	"rss/conn": {false, "RSS bytes/conn"},
	"p50":      {false, "p50 µs"},
	"p99":      {false, "p99 µs"},
}

// group is a set of workloads compared the same way.
type group struct {
	title   string
	prefix  string
	metrics []string // in the ratio table
	all     []string // in the table of figures
}

var groups = []group{
	{"TCP echo", "echo", []string{"msgs/s", "cpu/msg"}, []string{"msgs/s", "cpu/msg", "p50", "p99"}},
	{"HTTP/1.1 plaintext (wrk)", "http", []string{"req/s", "cpu/req"}, []string{"req/s", "cpu/req", "p50", "p99"}},
	{"Idle connections", "idle", []string{"rss/conn"}, []string{"rss/conn"}},
	{"Timers", "timers", []string{"timers/s", "rearms/s"}, []string{"timers/s", "rearms/s"}},
	{"Cross-goroutine wake-ups", "wake-ups", []string{"wakes/s", "p50", "p99"}, []string{"wakes/s", "p50", "p99"}},
	{"TLS (crypto/tls on every server)", "tls", []string{"req/s", "cpu/req", "conns/s", "cpu/conn", "rss/conn"}, []string{"req/s", "cpu/req", "p50", "p99", "conns/s", "cpu/conn", "rss/conn"}},
}

func isOurs(impl string) bool { return strings.HasPrefix(impl, "eventcore") }

func (g group) workloads(r *results) []string {
	var out []string
	for _, w := range r.workloads {
		if strings.HasPrefix(w, g.prefix) {
			out = append(out, w)
		}
	}
	return out
}

// sides splits the implementations measured in the group into ours and
// the alternatives.
func (g group) sides(r *results) (ours, alts []string) {
	for _, w := range g.workloads(r) {
		for _, impl := range r.impls(w) {
			list := &alts
			if isOurs(impl) {
				list = &ours
			}
			if !contains(*list, impl) {
				*list = append(*list, impl)
			}
		}
	}
	return ours, alts
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// ratio is ours ÷ alternative for a metric, medians.
func (r *results) ratio(w, ours, alt, metric string) (float64, bool) {
	a, ok1 := r.median(w, ours, metric)
	b, ok2 := r.median(w, alt, metric)
	if !ok1 || !ok2 || b == 0 {
		return 0, false
	}
	return a / b, true
}

func fmtValue(v float64) string {
	switch a := math.Abs(v); {
	case a >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case a >= 1e4:
		return fmt.Sprintf("%.0fk", v/1e3)
	case a >= 1e3:
		return fmt.Sprintf("%.2fk", v/1e3)
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

func (r *results) cell(w, impl, metric string) string {
	med, lo, hi, ok := r.stat(w, impl, metric)
	if !ok {
		return "–"
	}
	if lo == hi {
		return fmtValue(med)
	}
	return fmt.Sprintf("%s (%s–%s)", fmtValue(med), fmtValue(lo), fmtValue(hi))
}

// ratioTable renders the ratios, as plain text or Markdown.
func (r *runner) ratioTable(md bool) string {
	var b strings.Builder
	for _, g := range groups {
		ws := g.workloads(r.res)
		if len(ws) == 0 {
			continue
		}
		ours, alts := g.sides(r.res)
		head := []string{"workload", "metric", "eventcore (median, min–max)"}
		for _, a := range alts {
			head = append(head, "÷ "+a)
		}
		var rows [][]string
		for _, w := range ws {
			for _, o := range ours {
				for _, m := range g.metrics {
					if _, ok := r.res.median(w, o, m); !ok {
						continue
					}
					row := []string{w, metricInfo[m].label, o + " " + r.res.cell(w, o, m)}
					for _, a := range alts {
						if q, ok := r.res.ratio(w, o, a, m); ok {
							row = append(row, fmt.Sprintf("%.2f", q))
						} else {
							row = append(row, "–")
						}
					}
					rows = append(rows, row)
				}
			}
		}
		fmt.Fprintf(&b, "%s%s\n", map[bool]string{true: "### ", false: "== "}[md], g.title)
		if md {
			b.WriteString("\n")
		}
		b.WriteString(renderTable(head, rows, md))
		b.WriteString("\n")
	}
	if md {
		b.WriteString("A ratio is eventcore's median divided by the alternative's: above 1 is better for throughput (msgs/s, req/s, timers/s, re-arms/s, wake-ups/s), below 1 is better for CPU time, memory and latency.\n")
	} else {
		b.WriteString("ratio = eventcore ÷ alternative (medians): > 1 better for rates, < 1 better for CPU, memory, latency\n")
	}
	return b.String()
}

// figureTable renders every implementation's medians for a group.
func (r *runner) figureTable(g group) string {
	ws := g.workloads(r.res)
	head := []string{"workload", "implementation"}
	for _, m := range g.all {
		head = append(head, metricInfo[m].label)
	}
	var rows [][]string
	for _, w := range ws {
		for _, impl := range r.res.impls(w) {
			row := []string{w, impl}
			for _, m := range g.all {
				row = append(row, r.res.cell(w, impl, m))
			}
			rows = append(rows, row)
		}
	}
	return renderTable(head, rows, true)
}

func renderTable(head []string, rows [][]string, md bool) string {
	var b strings.Builder
	if md {
		b.WriteString("| " + strings.Join(head, " | ") + " |\n|")
		for range head {
			b.WriteString("---|")
		}
		b.WriteString("\n")
		for _, row := range rows {
			b.WriteString("| " + strings.Join(row, " | ") + " |\n")
		}
		return b.String()
	}
	width := make([]int, len(head))
	for _, row := range append([][]string{head}, rows...) {
		for i, c := range row {
			width[i] = max(width[i], len([]rune(c)))
		}
	}
	line := func(row []string) {
		for i, c := range row {
			pad := width[i] - len([]rune(c))
			if i >= 3 {
				b.WriteString(strings.Repeat(" ", pad) + c)
			} else {
				b.WriteString(c + strings.Repeat(" ", pad))
			}
			b.WriteString("  ")
		}
		b.WriteString("\n")
	}
	line(head)
	for _, row := range rows {
		line(row)
	}
	return b.String()
}

// isScale tells the scaling rows (scale.go), which have a bar of their
// own.
func isScale(w string) bool { return strings.Contains(w, " scale ") }

// scaleBar checks issue 13's bar on the echo scaling rows: at N loops,
// at least 0.8 × N times one loop's messages/s, and at least 0.95× the C
// floor with N threads.
func (r *runner) scaleBar(check func(bool, string, ...any)) {
	const ours = "eventcore-epoll"
	one := 0.0
	for _, w := range groups[0].workloads(r.res) {
		var n int
		if _, err := fmt.Sscanf(w, "echo scale %d loops", &n); err != nil {
			continue
		}
		v, ok1 := r.res.median(w, ours, "msgs/s")
		q, ok2 := r.res.ratio(w, ours, "c-epoll", "msgs/s")
		if !ok1 || !ok2 {
			continue
		}
		if n == 1 {
			one = v
		}
		if one == 0 {
			continue
		}
		k := v / one / float64(n)
		check(q >= 0.95 && k >= 0.8, "%s: %.2f× the C floor with %d threads (bar ≥ 0.95), %.2f × N one loop's msgs/s (bar ≥ 0.8)", w, q, n, k)
	}
}

// barReport says, for eventcore-epoll, which parts of the bar are met.
// Each ratio is of medians; beside it, in parentheses, the lowest and the
// highest of the ratios within one repetition (repRatios).
func (r *runner) barReport(md bool) string {
	const ours = "eventcore-epoll"
	var lines []string
	check := func(ok bool, format string, args ...any) {
		mark := "NOT MET"
		if ok {
			mark = "met"
		}
		lines = append(lines, fmt.Sprintf("%s: %s", mark, fmt.Sprintf(format, args...)))
	}
	res := r.res
	// ratio is res.ratio and its spread over the repetitions, to print
	// with %.2f×%s.
	type ratio struct {
		q      float64
		spread string
	}
	get := func(w, ours, alt, metric string) (ratio, bool) {
		q, ok := res.ratio(w, ours, alt, metric)
		if reps := res.repRatios(w, ours, alt, metric); ok && len(reps) > 1 {
			return ratio{q, fmt.Sprintf(" (%.2f–%.2f)", slices.Min(reps), slices.Max(reps))}, true
		}
		return ratio{q: q}, ok
	}
	for _, w := range groups[0].workloads(res) {
		q, ok1 := get(w, ours, "c-epoll", "msgs/s")
		c, ok2 := get(w, ours, "c-epoll", "cpu/msg")
		switch {
		case !ok1 || !ok2:
		case clientPaced(w):
			check(c.q <= 1.1, "%s: %.2f×%s the C floor's CPU/msg (bar ≤ 1.1); %.2f×%s its msgs/s, which the client sets", w, c.q, c.spread, q.q, q.spread)
		default:
			check(q.q >= 0.95 && c.q <= 1.1, "%s: %.2f×%s the C floor's msgs/s (bar ≥ 0.95), %.2f×%s its CPU/msg (bar ≤ 1.1)", w, q.q, q.spread, c.q, c.spread)
		}
	}
	r.scaleBar(check)
	for _, w := range groups[1].workloads(res) {
		if isScale(w) {
			continue
		}
		a, ok1 := get(w, ours, "net/http", "req/s")
		f, ok2 := get(w, ours, "fasthttp", "req/s")
		if ok1 && ok2 {
			check(a.q >= 2 && f.q >= 1, "%s: %.2f×%s net/http (bar ≥ 2), %.2f×%s fasthttp (bar ≥ 1.0)", w, a.q, a.spread, f.q, f.spread)
		}
	}
	for _, w := range groups[2].workloads(res) {
		if v, ok := res.median(w, ours, "rss/conn"); ok {
			check(v <= 300, "%s: %.0f bytes of RSS per connection (bar ≤ 300)", w, v)
		}
	}
	for _, w := range groups[3].workloads(res) {
		if q, ok := get(w, ours, "time.AfterFunc", "timers/s"); ok {
			check(q.q >= 2, "%s: %.2f×%s time.AfterFunc (bar ≥ 2)", w, q.q, q.spread)
		}
		if q, ok := get(w, ours, "time.AfterFunc", "rearms/s"); ok {
			check(q.q >= 1.5, "%s: %.2f×%s Timer.Reset (bar ≥ 1.5)", w, q.q, q.spread)
		}
	}
	for _, w := range groups[4].workloads(res) {
		if q, ok := get(w, ours+" Trigger", "channel", "wakes/s"); ok {
			check(q.q >= 1, "%s: Trigger %.2f×%s a channel (bar ≥ 1.0)", w, q.q, q.spread)
		}
		for _, m := range []string{"Trigger", "RunInOwnerThread"} {
			p50, ok1 := get(w, ours+" "+m, "channel", "p50")
			p99, ok2 := get(w, ours+" "+m, "channel", "p99")
			if ok1 && ok2 {
				check(p50.q <= 2 && p99.q <= 3, "%s: %s p50 %.2f×%s, p99 %.2f×%s a channel's (bar ≤ 2, ≤ 3)", w, m, p50.q, p50.spread, p99.q, p99.spread)
			}
		}
	}
	for _, w := range groups[5].workloads(res) { // issue 12's bars
		if a, ok := get(w, ours, "net/http", "req/s"); ok {
			f, _ := get(w, ours, "fasthttp", "req/s")
			check(a.q >= 1.5 && f.q >= 1, "%s: %.2f×%s net/http (bar ≥ 1.5), %.2f×%s fasthttp (bar ≥ 1.0)", w, a.q, a.spread, f.q, f.spread)
		}
		if q, ok := get(w, ours, "net/http", "conns/s"); ok {
			check(q.q >= 0.9, "%s: %.2f×%s net/http (bar ≥ 0.9)", w, q.q, q.spread)
		}
		if q, ok := get(w, ours, "net/http", "rss/conn"); ok {
			check(q.q <= 0.2, "%s: %.2f×%s net/http's RSS per connection (bar ≤ 0.2)", w, q.q, q.spread)
		}
	}
	if len(lines) == 0 {
		return ""
	}
	head := "The bar (eventcore-epoll, medians; in parentheses the lowest and highest ratio within one repetition):\n"
	if md {
		return "- " + strings.Join(lines, "\n- ") + "\n"
	}
	return head + "  " + strings.Join(lines, "\n  ") + "\n"
}

// clientPaced tells the echo workloads whose rate the load client sets:
// writing each message on its own costs the client about what answering it
// costs a server, and with 1,024 messages in flight it never waits for one,
// so only the server's CPU time per message tells the servers apart.
func clientPaced(workload string) bool { return strings.Contains(workload, "pipelined-refill") }

type reportInfo struct {
	command, mode     string
	started           time.Time
	elapsed           time.Duration
	jsonPath, notes   string
	reportPath, chart string
	load              [2]string // /proc/loadavg at the start and the end
}

// writeReport writes the Markdown report and its charts.
func (r *runner) writeReport(info reportInfo) error {
	if err := os.MkdirAll(info.chart, 0o755); err != nil {
		return err
	}
	charts, err := r.writeCharts(info.chart)
	if err != nil {
		return err
	}
	base := filepath.Dir(mustAbs(info.reportPath))
	rel := func(p string) string {
		if q, err := filepath.Rel(base, mustAbs(p)); err == nil {
			return filepath.ToSlash(q)
		}
		return p
	}
	var b strings.Builder
	b.WriteString("# eventcore benchmarks\n\n")
	fmt.Fprintf(&b, "Generated by `cd bench && %s`, started %s, %s mode with %d repetitions (%v in all).",
		info.command, info.started.UTC().Format("2006-01-02 15:04 MST"), info.mode, r.set.reps, info.elapsed.Round(time.Second))
	if info.jsonPath != "" {
		fmt.Fprintf(&b, " Every figure of this run, each repetition included, is in [%s](%s); this page was written by the same run.", rel(info.jsonPath), rel(info.jsonPath))
	}
	b.WriteString(" Nothing here is edited by hand except the notes at the end, which the run copies from `bench/NOTES.md`.\n\n")
	b.WriteString("## Machine\n\n")
	for _, l := range machineInfo() {
		b.WriteString("- " + l + "\n")
	}
	fmt.Fprintf(&b, "- Load average (1, 5, 15 min) at the start: %s; at the end: %s. The machine is shared with other work, which the load average shows; alternating the implementations within each repetition spreads that noise over all of them.\n", info.load[0], info.load[1])
	b.WriteString("\n## Method\n\n" + methodText + "\n")
	if bar := r.barReport(true); bar != "" {
		b.WriteString("## The bar\n\neventcore-epoll against the bars of issues 3, 11, 12 and 13, medians of this run; in parentheses, the lowest and the highest of the ratios taken within one repetition, where the two ran one after the other (a slow or fast spell of the machine that a ratio of medians may see on one side only weighs on both sides of those):\n\n" + bar + "\n")
	}
	b.WriteString("## Ratios\n\n" + r.ratioTable(true) + "\n")
	b.WriteString("## Charts\n\n")
	for _, c := range charts {
		fmt.Fprintf(&b, "![%s](%s)\n\n", c.title, rel(c.path))
	}
	b.WriteString("## Every implementation, medians (min–max over repetitions)\n\n")
	for _, g := range groups {
		if len(g.workloads(r.res)) == 0 {
			continue
		}
		b.WriteString("### " + g.title + "\n\n" + r.figureTable(g) + "\n")
	}
	if info.notes != "" {
		if notes, err := os.ReadFile(info.notes); err == nil {
			b.WriteString(strings.TrimSpace(string(notes)) + "\n")
		}
	}
	return os.WriteFile(info.reportPath, []byte(b.String()), 0o644)
}

const methodText = `- **Servers under test** each run as their own process, pinned to CPU 0 with ` + "`taskset`" + `; Go servers run with ` + "`GOMAXPROCS=1`" + `. eventcore runs once per driver that ` + "`eventcore.Drivers()`" + ` lists (chosen with ` + "`EVENTCORE_DRIVER`" + `). The echo servers: eventcore (` + "`bench/servers/ececho`" + `), goroutine-per-connection ` + "`net`" + `, cloudwego/netpoll with one poller, and a C epoll server (` + "`bench/servers/cecho/cecho.c`" + `, level-triggered, one read and one write per message, compiled with the system ` + "`cc -O2`" + ` at bench time) as the floor of what the kernel allows, and beside it, where liburing is installed, a C io_uring server (` + "`bench/servers/curing/curing.c`" + `: multishot accept and receive into a provided-buffer ring, one send in flight per connection, every submission of a round and the wait in one ` + "`io_uring_enter`" + `) to show what io_uring allows. The HTTP servers: ` + "`examples/http`" + ` on eventcore, ` + "`net/http`" + ` and fasthttp, all answering "Hello, World!" with Server, Date, Content-Type and Content-Length headers. Both eventcore servers keep no buffer for a connection that waits: the echo server reads with ` + "`ReadLoaned`" + ` into a buffer the loop lends and writes back a copy taken from a free list, returned when the write completes (at once where the socket has room; after the loop's next wait on io_uring, which hands writes to the kernel); the HTTP server reads with ` + "`ReadLoaned`" + ` too (over TLS, it waits with ` + "`WaitForData`" + ` and reads into one buffer the loop shares, and the TLS stream itself waits for records with a loaned read), writes back at once, and copies into a buffer of the connection's own only what the socket did not take.
- **The echo load client** is one OS thread of the bench command pinned to CPU 1, driving raw non-blocking sockets with level-triggered epoll; it checks every echoed byte (a sequence number and a fixed random pattern) and records each message's round-trip time in a log-linear histogram. Ping-pong: each connection has one message in flight; pipelined: 16, the messages of each read answered by as many in one write (so the first burst of 16 comes back whole and goes out again whole); pipelined-refill: 16, each message that came back answered by one in a write of its own, so that the server reads as many as arrived since its last read; this client is slower than the servers, so it sets the rate, and the bar for this load is on CPU time alone. Each run connects afresh to a freshly started server, warms up, then measures.
- **HTTP** load comes from ` + "`wrk`" + ` (one thread, pinned to CPU 1), 64 connections, keep-alive; pipelined runs send 16 requests per batch (a Lua script). A warm-up run of wrk precedes the measured one.
- **Server CPU time** per message or request is the server's user + system time from ` + "`/proc/PID/stat`" + ` over the measurement window, divided by the messages answered: steadier than throughput on a noisy machine.
- **Idle connections**: a separate client process opens the connections, exchanges one byte on each (so every server has made its first read and waits for the next), and holds them; the server's RSS increase (` + "`/proc/PID/statm`" + `) after a one-second settle, divided by the connection count.
- **Timers** (own process, pinned, ` + "`GOMAXPROCS=1`" + `): create, arm (deadlines spread over 50 ms) and fire one-shot timers, from the first arm to the last firing; and re-arm (move) timers among 10,000 armed periodic ones, against ` + "`time.AfterFunc`" + ` and ` + "`Timer.Reset`" + `.
- **Wake-ups** (own process, ` + "`GOMAXPROCS=2`" + `, unpinned since two threads are involved): another goroutine calls ` + "`Events().Trigger`" + ` or ` + "`RunInOwnerThread`" + ` as fast as it can (throughput), or once at a time with the loop asleep (latency from the call to the callback), against a channel send to a goroutine blocked receiving.
- **Scaling** (issue 13): echo with 64 connections of 64 B per loop, and HTTP keep-alive with 64 connections per loop, at 1, 2, 4 and 8 loops below the machine's CPU count and at that count. eventcore serves from a group (` + "`ececho -loops N`" + `, ` + "`examples/http -loops N`" + `; on Linux one ` + "`SO_REUSEPORT`" + ` listener per loop), the C floor with N threads each with its own ` + "`SO_REUSEPORT`" + ` listener and epoll, the Go servers with ` + "`GOMAXPROCS=N`" + `. Servers run on CPUs 0..N−1, the load (one echo client thread or one wrk thread per CPU) on the CPUs after those, or on the last CPU where none is left: such rows say that the client shares a CPU, and measure contention, not scaling.
- **Repetitions**: within each repetition the implementations run one after another (A B C A B C …), so slow drifts of the machine hit all of them alike; the figures are medians over repetitions with the range. All traffic is on 127.0.0.1.
`

func machineInfo() []string {
	var out []string
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				out = append(out, fmt.Sprintf("CPU: %s, %d logical CPUs", strings.TrimSpace(v), runtime.NumCPU()))
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		out = append(out, "Linux "+strings.TrimSpace(string(b)))
	}
	out = append(out, "Go: "+runtime.Version())
	if v := firstLine("cc", "--version"); v != "" {
		out = append(out, "C compiler: "+v)
	}
	if v := firstLine("wrk", "-v"); v != "" {
		out = append(out, "wrk: "+v)
	}
	return out
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], ", ")
}

func firstLine(argv ...string) string {
	out, _ := exec.Command(argv[0], argv[1:]...).CombinedOutput()
	l, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimSpace(l)
}

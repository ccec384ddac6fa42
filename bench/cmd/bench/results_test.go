package main

import (
	"strings"
	"testing"
)

// TestRepRatios: the ratio within each repetition, and the bar's line
// with the lowest and highest of them beside the ratio of medians.
func TestRepRatios(t *testing.T) {
	res := newResults()
	const w = "timers re-arm among 10k"
	for _, v := range [][2]float64{{10, 5}, {30, 20}, {12, 24}} {
		res.add(w, "eventcore-epoll", "rearms/s", "re-arms/s", v[0])
		res.add(w, "time.AfterFunc", "rearms/s", "re-arms/s", v[1])
	}
	q := res.repRatios(w, "eventcore-epoll", "time.AfterFunc", "rearms/s")
	if len(q) != 3 || q[0] != 2 || q[1] != 1.5 || q[2] != 0.5 {
		t.Fatalf("per repetition %v, want [2 1.5 0.5]", q)
	}
	res.add(w, "eventcore-epoll", "rearms/s", "re-arms/s", 1)
	if q := res.repRatios(w, "eventcore-epoll", "time.AfterFunc", "rearms/s"); q != nil {
		t.Fatalf("series of unequal length paired: %v", q)
	}

	res = newResults()
	for _, v := range [][2]float64{{10, 5}, {30, 20}, {12, 24}} {
		res.add(w, "eventcore-epoll", "rearms/s", "re-arms/s", v[0])
		res.add(w, "time.AfterFunc", "rearms/s", "re-arms/s", v[1])
	}
	bar := (&runner{res: res}).barReport(true)
	// medians 12 and 20: 0.60×; within a repetition 0.50 to 2.00.
	if want := "NOT MET: timers re-arm among 10k: 0.60× (0.50–2.00) Timer.Reset (bar ≥ 1.5)"; !strings.Contains(bar, want) {
		t.Fatalf("bar:\n%s\nwant a line %q", bar, want)
	}
}

// Package leakcheck finds what a test left behind: goroutines of a
// package that outlive what started them, and descriptors (handles on
// Windows) left open. The subpackages' tests share it.
package leakcheck

import (
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Goroutines returns the ids of the goroutines there are now. Ids are
// never reused, so one not among them started later.
func Goroutines() map[uint64]bool {
	ids := make(map[uint64]bool)
	for _, g := range stacks() {
		ids[goroutineID(g)] = true
	}
	return ids
}

// Stray returns the stacks of the goroutines running code of package pkg
// (its name as stacks show it, "tlsstream."), not of its tests, that are
// not among before, once there are none or after limit; "" when there
// are none.
func Stray(before map[uint64]bool, pkg string, limit time.Duration) string {
	return Wait(limit, func(g string) bool {
		return !before[goroutineID(g)] && strings.Contains(g, pkg) && !strings.Contains(g, "_test.go")
	})
}

// Wait returns the stacks of the goroutines, other than the caller's, that
// stray reports, once there are none or after limit; "" when there are
// none.
func Wait(limit time.Duration, stray func(stack string) bool) string {
	deadline := time.Now().Add(limit)
	for {
		var found []string
		for i, g := range stacks() {
			if i > 0 && stray(g) { // the first is the caller's
				found = append(found, g)
			}
		}
		if len(found) == 0 {
			return ""
		}
		if !time.Now().Before(deadline) {
			return strings.Join(found, "\n\n")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// stacks returns the stack of every goroutine, the caller's first.
func stacks() []string {
	buf := make([]byte, 64<<10)
	n := runtime.Stack(buf, true)
	for n == len(buf) { // truncated: try again with room to spare
		buf = make([]byte, 2*len(buf))
		n = runtime.Stack(buf, true)
	}
	return strings.Split(string(buf[:n]), "\n\n")
}

// goroutineID returns the id of a goroutine from its stack, which begins
// "goroutine 7 [running]:"; 0 if it does not.
func goroutineID(stack string) uint64 {
	rest, _ := strings.CutPrefix(stack, "goroutine ")
	id, _ := strconv.ParseUint(rest[:strings.IndexFunc(rest+" ", func(r rune) bool { return r < '0' || r > '9' })], 10, 64)
	return id
}

//go:build eventcore_checked

package eventcore

import (
	"bytes"
	"runtime"
	"strconv"
	"strings"
	"sync"
)

// The checked mode, built with the tag eventcore_checked (go test -tags
// eventcore_checked): every call of a loop-only method checks that it
// comes from the loop's owner goroutine, and panics, naming the method and
// both goroutines, if it does not. Without the tag (unchecked.go) the
// checks compile to nothing.
//
// The owner is the goroutine that runs ProcessEvents. Before the first
// ProcessEvents it is the goroutine that created the driver. Ownership
// passes to another goroutine only at a ProcessEvents called while no
// ProcessEvents of the loop runs (not from a callback), and at Dispose
// called while none runs: that is how a loop is handed over.
//
// Every loop-only method passes through a lookup of the handle tables
// (table.get, table.alloc, table.each) or through loop.run or dispose; the
// goroutine-safe ones (Core.Exit, Core.RunInOwnerThread, Events.Trigger)
// and the library's own goroutines (the worker pool, the signal
// forwarders, Windows's thread-pool waits) touch no table.

// checkedMode tells whether the checks are compiled in (tests scale their
// longest runs down: a check takes a stack trace).
const checkedMode = true

// scribbleLoan overwrites a loaned read's bytes once its callback has
// returned, so that a caller that kept them sees garbage at once rather
// than, some day, another connection's data.
func scribbleLoan(b []byte) {
	for i := range b {
		b[i] = 0xA5
	}
}

// ownerCheck is the record of the loop's owner, shared by the loop and its
// tables.
type ownerCheck struct{ o *owner }

type owner struct {
	mu      sync.Mutex
	g       uint64   // the owner goroutine's ID
	running int      // ProcessEvents calls on the stack
	since   string   // where the owner took the loop: its stack then
	buf     [64]byte // for goroutineID, under mu: a local one would escape
}

func newOwnerCheck() ownerCheck {
	o := &owner{since: stackOf(false)}
	o.g = o.goroutineID()
	return ownerCheck{o}
}

// run is called when ProcessEvents starts: a top-level one takes the loop,
// a nested one must come from the owner.
func (c ownerCheck) run() {
	o := c.o
	o.mu.Lock()
	defer o.mu.Unlock()
	g := o.goroutineID()
	switch {
	case o.running == 0 && o.g != g:
		o.g, o.since = g, stackOf(false)
	case o.g != g:
		o.misuse("Core.ProcessEvents", kindNone, g)
	}
	o.running++
}

// left is called when ProcessEvents returns, or a panic leaves it.
func (c ownerCheck) left() {
	c.o.mu.Lock()
	c.o.running--
	c.o.mu.Unlock()
}

// dispose checks a Dispose: from the owner, or while no ProcessEvents runs.
func (c ownerCheck) dispose() {
	o := c.o
	o.mu.Lock()
	defer o.mu.Unlock()
	if g := o.goroutineID(); o.g != g {
		if o.running > 0 {
			o.misuse("Driver.Dispose", kindNone, g)
		}
		o.g, o.since = g, stackOf(false)
	}
}

// check checks that a loop-only method, on a handle of kind k (kindNone if
// none), is called by the owner.
func (c ownerCheck) check(k kind) {
	if c.o == nil {
		return // a table not yet part of a loop
	}
	o := c.o
	o.mu.Lock()
	defer o.mu.Unlock()
	if g := o.goroutineID(); g != o.g {
		o.misuse("", k, g)
	}
}

// misuse panics with a report of a call by goroutine g.
func (o *owner) misuse(method string, k kind, g uint64) {
	if method == "" {
		method = calledMethod()
	}
	if method == "" {
		method = "a method"
		if k != kindNone {
			method += " on a " + k.String()
		}
	}
	var b strings.Builder
	b.WriteString("eventcore: ")
	b.WriteString(method)
	b.WriteString(" called on goroutine ")
	b.WriteString(strconv.FormatUint(g, 10))
	b.WriteString(", but the loop belongs to goroutine ")
	b.WriteString(strconv.FormatUint(o.g, 10))
	b.WriteString(" (the one that runs its ProcessEvents); only Core.Exit, Core.RunInOwnerThread and Events.Trigger may be called from other goroutines.\n\ngoroutine ")
	b.WriteString(strconv.FormatUint(g, 10))
	b.WriteString(", the call:\n")
	b.WriteString(stackOf(false))
	b.WriteString("\ngoroutine ")
	b.WriteString(strconv.FormatUint(o.g, 10))
	b.WriteString(", when it took the loop:\n")
	b.WriteString(o.since)
	panic(b.String())
}

// goroutineID returns the ID of the calling goroutine, as the first line
// of its stack trace gives it: "goroutine 18 [running]:". It is called
// under o.mu.
func (o *owner) goroutineID() uint64 {
	b, _ := bytes.CutPrefix(o.buf[:runtime.Stack(o.buf[:], false)], []byte("goroutine "))
	var id uint64
	for i := 0; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		id = id*10 + uint64(b[i]-'0')
	}
	return id
}

func stackOf(all bool) string {
	buf := make([]byte, 16<<10)
	return string(buf[:runtime.Stack(buf, all)])
}

// calledMethod names the exported function or method of this package
// through which the caller entered it ("Sockets.Read", "Driver.Dispose",
// "UserData"), "" if none shows.
func calledMethod() string {
	const pkg = "github.com/eventcore-go/eventcore."
	pcs := make([]uintptr, 64)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(2, pcs)])
	name := ""
	for {
		f, more := frames.Next()
		fn, ok := strings.CutPrefix(f.Function, pkg)
		if !ok || strings.Contains(fn, ".func") {
			break // the caller's code, or a callback
		}
		fn, _, _ = strings.Cut(fn, "[") // a generic function's type arguments
		fn = strings.NewReplacer("(*", "", ")", "").Replace(fn)
		if exportedAPI(fn) {
			name = fn
		}
		if !more {
			break
		}
	}
	return name
}

// exportedAPI reports whether fn, a function's name without its package
// and receiver's pointer, is an exported method of an exported type
// ("Sockets.Read") or an exported function ("UserData").
func exportedAPI(fn string) bool {
	typ, method, isMethod := strings.Cut(fn, ".")
	upper := func(s string) bool { return s != "" && s[0] >= 'A' && s[0] <= 'Z' }
	if !isMethod {
		// Not the test harness's own functions.
		for _, p := range []string{"Test", "Benchmark", "Fuzz", "Example"} {
			if strings.HasPrefix(typ, p) {
				return false
			}
		}
		return upper(typ)
	}
	return upper(typ) && upper(method)
}

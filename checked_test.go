//go:build eventcore_checked

package eventcore

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// The checked mode (go test -tags eventcore_checked): a loop-only method
// called from a goroutine other than the loop's owner panics, naming the
// method and both goroutines.

// callOn runs fn on a new goroutine and returns what it panicked with, nil
// if nothing, and that goroutine's ID.
func callOn(fn func()) (v any, g uint64) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() { v = recover() }()
		g = testGoroutineID()
		fn()
	}()
	<-done
	return v, g
}

func testGoroutineID() uint64 {
	var o owner
	return o.goroutineID()
}

// wantMisuse fails t unless v is the checked mode's report of method,
// called by goroutine g while goroutine owner held the loop.
func wantMisuse(t *testing.T, v any, method string, g, owner uint64) {
	t.Helper()
	msg, _ := v.(string)
	for _, want := range []string{
		"eventcore: " + method + " called on goroutine " + fmt.Sprint(g),
		"the loop belongs to goroutine " + fmt.Sprint(owner),
	} {
		if !strings.Contains(msg, want) {
			t.Fatalf("panic %q, want one saying %q", v, want)
		}
	}
}

func TestCheckedReportsCallFromAnotherGoroutine(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *Driver) {
		me := testGoroutineID()
		tm := d.Timers().Create()
		v, g := callOn(func() { d.Timers().Set(tm, time.Hour, 0) })
		wantMisuse(t, v, "Timers.Set", g, me)
		if d.Timers().IsPending(tm) {
			t.Fatal("the refused Set armed the timer")
		}
		v, g = callOn(func() { d.Core().WaiterCount() })
		wantMisuse(t, v, "Core.WaiterCount", g, me)
		v, g = callOn(func() { d.Events().Create() })
		wantMisuse(t, v, "Events.Create", g, me)
		v, g = callOn(func() { UserData[int](d, tm) })
		wantMisuse(t, v, "UserData", g, me)
		d.Timers().ReleaseRef(tm)
	})
}

// While the owner is blocked in ProcessEvents: a write from elsewhere is
// reported; the goroutine-safe methods are not.
func TestCheckedWhileTheLoopRuns(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *Driver) {
		s := d.Sockets()
		c, srv := streamPair(t, d, MustParseAddr("127.0.0.1:0"))
		me := testGoroutineID()
		ev := d.Events().Create()
		woken := false
		d.Events().Wait(ev, func(EventID) { woken = true })
		type report struct {
			v any
			g uint64
		}
		reports := make(chan report, 1)
		ran := false
		d.Core().RunInOwnerThread(func() {
			// Queued before the loop blocks; the other goroutine starts
			// from here, while ProcessEvents runs.
			go func() {
				v, g := callOn(func() { s.Write(c, []byte("x"), IOModeAll, func(StreamSocket, IOStatus, int) {}) })
				d.Core().RunInOwnerThread(func() { ran = true })
				d.Events().Trigger(ev, true)
				reports <- report{v, g}
				d.Core().Exit()
			}()
		})
		runUntil(t, d, "the other goroutine's calls", func() bool { return ran && woken })
		r := <-reports
		wantMisuse(t, r.v, "Sockets.Write", r.g, me)
		d.Core().ClearExitFlag()
		d.Events().ReleaseRef(ev)
		s.ReleaseRef(c)
		s.ReleaseRef(srv)
	})
}

// A loop made by one goroutine and run by another: that one owns it from
// its first ProcessEvents; a ProcessEvents from a third while it runs is
// reported; the maker takes the loop back with a ProcessEvents of its own
// once the other is done.
func TestCheckedOwnershipPasses(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *Driver) {
		ev := d.Events().Create()
		d.Events().Wait(ev, func(EventID) {})
		running := make(chan uint64)
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			runner := testGoroutineID()
			d.Core().RunInOwnerThread(func() { running <- runner })
			for {
				select {
				case <-stop:
					return
				default:
					d.Core().ProcessEvents(Infinite)
				}
			}
		}()
		runner := <-running
		v, g := callOn(func() { d.Events().Wait(ev, func(EventID) {}) })
		wantMisuse(t, v, "Events.Wait", g, runner)
		v, g = callOn(func() { d.Core().ProcessEvents(0) })
		wantMisuse(t, v, "Core.ProcessEvents", g, runner)
		v, g = callOn(func() { d.Dispose() })
		wantMisuse(t, v, "Driver.Dispose", g, runner)
		close(stop)
		d.Core().Exit()
		<-done
		v, g = callOn(func() { d.Events().ReleaseRef(ev) })
		wantMisuse(t, v, "Events.ReleaseRef", g, runner)
		d.Core().ProcessEvents(0)
		d.Events().ReleaseRef(ev)
	})
}

// A callback may call ProcessEvents: the same goroutine, no report.
func TestCheckedNestedProcessEvents(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *Driver) {
		ran := false
		d.Core().RunInOwnerThread(func() {
			d.Core().ProcessEvents(0)
			ran = true
		})
		d.Core().ProcessEvents(0)
		if !ran {
			t.Fatal("the function did not run")
		}
	})
}

package eventcore

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"
)

func TestOutOfWaiters(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *Driver) {
		c := d.Core()
		if n := c.WaiterCount(); n != 0 {
			t.Fatalf("fresh driver: WaiterCount = %d", n)
		}
		if r := c.ProcessEvents(Infinite); r != ExitOutOfWaiters {
			t.Fatalf("ProcessEvents(Infinite) with no waiters = %v", r)
		}
		// A timer is a waiter until it fires; then the loop runs out.
		tm := d.Timers().Create()
		d.Timers().Set(tm, time.Millisecond, 0)
		if n := c.WaiterCount(); n != 1 {
			t.Fatalf("armed timer: WaiterCount = %d", n)
		}
		var r ExitReason
		runUntil(t, d, "timer", func() bool { r = c.ProcessEvents(Infinite); return r != ExitTimeout })
		if r != ExitOutOfWaiters || c.WaiterCount() != 0 {
			t.Fatalf("after the only timer fired: %v, WaiterCount %d", r, c.WaiterCount())
		}
		d.Timers().ReleaseRef(tm)
	})
}

func TestProcessEventsTimeout(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *Driver) {
		tm := d.Timers().Create()
		d.Timers().Set(tm, time.Hour, 0)
		if r := d.Core().ProcessEvents(20 * time.Millisecond); r != ExitTimeout {
			t.Errorf("ProcessEvents(20ms) with an hour-long timer = %v", r)
		}
		if r := d.Core().ProcessEvents(0); r != ExitTimeout {
			t.Errorf("ProcessEvents(0) with nothing pending = %v", r)
		}
		d.Timers().ReleaseRef(tm)
	})
}

func TestExitFromGoroutine(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *Driver) {
		tm := d.Timers().Create()
		d.Timers().Set(tm, time.Hour, 0)
		go func() {
			time.Sleep(20 * time.Millisecond)
			d.Core().Exit()
		}()
		if r := d.Core().ProcessEvents(Infinite); r != ExitExited {
			t.Errorf("blocked ProcessEvents after Exit from another goroutine = %v", r)
		}
		// The flag was consumed.
		if r := d.Core().ProcessEvents(0); r != ExitTimeout {
			t.Errorf("next ProcessEvents(0) = %v", r)
		}
		d.Timers().ReleaseRef(tm)
	})
}

func TestExitBeforeProcessEvents(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *Driver) {
		c := d.Core()
		c.Exit()
		if r := c.ProcessEvents(Infinite); r != ExitExited {
			t.Errorf("ProcessEvents after Exit = %v", r)
		}
		tm := d.Timers().Create()
		d.Timers().Set(tm, time.Hour, 0)
		c.Exit()
		c.ClearExitFlag()
		if r := c.ProcessEvents(0); r != ExitTimeout {
			t.Errorf("ProcessEvents after Exit and ClearExitFlag = %v", r)
		}
		d.Timers().ReleaseRef(tm)
	})
}

func TestRunInOwnerThread(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *Driver) {
		var got []int
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 3 {
				d.Core().RunInOwnerThread(func() { got = append(got, i) })
			}
		}()
		wg.Wait()
		// They run even though nothing else keeps the loop alive.
		if r := d.Core().ProcessEvents(0); r != ExitOutOfWaiters {
			t.Errorf("ProcessEvents = %v", r)
		}
		if len(got) != 3 || got[0] != 0 || got[1] != 1 || got[2] != 2 {
			t.Fatalf("functions ran as %v, want [0 1 2]", got)
		}

		// Queued while the loop is blocked: it wakes up.
		ev := d.Events().Create()
		d.Events().Wait(ev, func(EventID) {})
		ran := false
		go func() {
			time.Sleep(20 * time.Millisecond)
			d.Core().RunInOwnerThread(func() { ran = true })
		}()
		runUntil(t, d, "RunInOwnerThread", func() bool { return ran })
		d.Events().ReleaseRef(ev)
	})
}

// Functions queued before ProcessEvents run at its start; having run
// them, it returns instead of blocking for more, even with waiters left.
func TestProcessEventsReturnsAfterQueuedWork(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *Driver) {
		ev := d.Events().Create()
		d.Events().Wait(ev, func(EventID) {})
		ran := false
		d.Core().RunInOwnerThread(func() { ran = true })
		stop := time.AfterFunc(hangLimit, d.Core().Exit) // only if it hangs
		defer stop.Stop()
		if r := d.Core().ProcessEvents(Infinite); r != ExitIdle || !ran {
			t.Errorf("ProcessEvents = %v (ran %v), want idle after running the queued function", r, ran)
		}
		d.Events().ReleaseRef(ev)
	})
}

func TestDisposeReportsLeaks(t *testing.T) {
	for _, name := range testDrivers(t) {
		t.Run(name, func(t *testing.T) {
			d := newTestDriver(t, name)
			tm := d.Timers().Create()
			ev := d.Events().Create()
			d.Timers().Set(tm, time.Hour, 0)
			if n := len(d.OpenHandles()); n != 2 {
				t.Errorf("OpenHandles before Dispose: %d entries, want 2", n)
			}
			if d.Dispose() {
				t.Fatal("Dispose with a timer and an event open reported no leak")
			}
			leaks := d.OpenHandles()
			kinds := map[string]int{}
			for _, l := range leaks {
				kinds[l.Kind]++
			}
			if len(leaks) != 2 || kinds["TimerID"] != 1 || kinds["EventID"] != 1 {
				t.Errorf("leak report = %+v", leaks)
			}
			// Everything fails gracefully afterwards.
			if d.Timers().Set(tm, time.Second, 0) || d.Timers().IsPending(tm) {
				t.Error("timer still usable after Dispose")
			}
			d.Events().Trigger(ev, true)
			if r := d.Core().ProcessEvents(Infinite); r != ExitOutOfWaiters {
				t.Errorf("ProcessEvents after Dispose = %v", r)
			}
			if err := d.LastError(tm); !errors.Is(err, ErrDisposed) {
				t.Errorf("LastError after Dispose = %v", err)
			}
			if _, err := d.Signals().Listen(nil, nil); err == nil {
				t.Error("Listen after Dispose succeeded")
			}
			if d.Timers().Create() != (TimerID{}) || d.Events().Create() != (EventID{}) {
				t.Error("Create after Dispose returned a handle")
			}
			if !slices.Equal(leaks, d.OpenHandles()) {
				t.Error("a second OpenHandles after Dispose differs")
			}
			if d.Dispose() {
				t.Error("second Dispose forgot the leaks")
			}
		})
	}
}

func TestUnknownDriver(t *testing.T) {
	if _, err := New(WithDriver("no-such-driver")); !errors.Is(err, ErrUnknownDriver) {
		t.Fatalf("New(unknown) error = %v", err)
	}
	t.Setenv("EVENTCORE_DRIVER", "no-such-driver")
	if _, err := New(); !errors.Is(err, ErrUnknownDriver) {
		t.Fatalf("New() with an unknown EVENTCORE_DRIVER: error = %v", err)
	}
	if len(Drivers()) == 0 {
		t.Fatal("no driver available")
	}
}

func TestEnumStrings(t *testing.T) {
	cases := map[string]string{
		ExitOutOfWaiters.String():       "outOfWaiters",
		IOStatusWouldBlock.String():     "wouldBlock",
		IOModeAll.String():              "all",
		ConnectStatusRefused.String():   "refused",
		ConnectionPassiveClose.String(): "passiveClose",
		SignalStatusOK.String():         "ok",
		IOStatus(200).String():          "IOStatus(200)",
	}
	for got, want := range cases {
		if got != want {
			t.Errorf("String() = %q, want %q", got, want)
		}
	}
}

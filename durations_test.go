package eventcore

import (
	"math"
	"testing"
	"time"
)

// Durations at the end of the loop's clock: Infinite, and anything whose
// deadline would lie past the end, mean never; they must not wrap into the
// past and fire at once.

// TestTimerNeverFires: a timer set to Infinite, or to a timeout whose
// deadline would overflow the clock, stays armed and never fires; the loop
// blocks on it instead of spinning.
func TestTimerNeverFires(t *testing.T) {
	for _, timeout := range []time.Duration{Infinite, Infinite - 1, Infinite - time.Hour} {
		t.Run(timeout.String(), func(t *testing.T) {
			forEachDriver(t, func(t *testing.T, d *Driver) {
				tm, core := d.Timers(), d.Core()
				id := tm.Create()
				if !tm.Set(id, timeout, 0) {
					t.Fatal("Set refused")
				}
				calls := 0
				tm.Wait(id, func(TimerID, bool) { calls++ })
				if r := core.ProcessEvents(50 * time.Millisecond); r != ExitTimeout || calls != 0 {
					t.Fatalf("ProcessEvents = %v with %d callbacks; want ExitTimeout and none", r, calls)
				}
				// With only that timer, ProcessEvents(Infinite) blocks until
				// something else happens: here Exit from another goroutine.
				stop := time.AfterFunc(50*time.Millisecond, core.Exit)
				if r := core.ProcessEvents(Infinite); r != ExitExited || calls != 0 {
					t.Fatalf("ProcessEvents(Infinite) = %v with %d callbacks; want ExitExited and none", r, calls)
				}
				stop.Stop()
				if !tm.IsPending(id) || core.WaiterCount() != 1 {
					t.Errorf("pending %v, %d waiters: a never-firing timer stays armed", tm.IsPending(id), core.WaiterCount())
				}
				// A timer beside it still fires on time.
				other := tm.Create()
				tm.Set(other, time.Millisecond, 0)
				fired := false
				tm.Wait(other, func(TimerID, bool) { fired = true })
				runUntil(t, d, "the other timer", func() bool { return fired })
				tm.ReleaseRef(other)
				tm.Stop(id)
				if calls != 1 {
					t.Errorf("Stop ran the wait %d times, want 1", calls)
				}
				tm.ReleaseRef(id)
			})
		})
	}
}

// TestTimerRepeatInfinite: a periodic timer whose period is Infinite fires
// once, after its timeout, and never again.
func TestTimerRepeatInfinite(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *Driver) {
		tm := d.Timers()
		id := tm.Create()
		tm.Set(id, time.Millisecond, Infinite)
		if !tm.IsPeriodic(id) {
			t.Fatal("IsPeriodic false with a positive repeat")
		}
		calls := 0
		var cb TimerCallback
		cb = func(id TimerID, fired bool) {
			calls++
			tm.Wait(id, cb)
		}
		tm.Wait(id, cb)
		runUntil(t, d, "the first firing", func() bool { return calls > 0 })
		if r := d.Core().ProcessEvents(50 * time.Millisecond); r != ExitTimeout || calls != 1 {
			t.Fatalf("ProcessEvents = %v, %d firings; want ExitTimeout and exactly 1", r, calls)
		}
		if !tm.IsPending(id) {
			t.Error("the periodic timer is no longer armed")
		}
		tm.CancelWait(id)
		tm.ReleaseRef(id)
	})
}

// TestTimerNegativeDurations: a negative timeout counts as zero, a
// negative repeat makes a one-shot timer, a negative ProcessEvents timeout
// does not block.
func TestTimerNegativeDurations(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *Driver) {
		tm := d.Timers()
		id := tm.Create()
		tm.Set(id, math.MinInt64, math.MinInt64)
		if tm.IsPeriodic(id) {
			t.Error("a negative repeat made a periodic timer")
		}
		calls := 0
		tm.Wait(id, func(TimerID, bool) { calls++ })
		runUntil(t, d, "the timer", func() bool { return calls > 0 })
		if tm.IsPending(id) || calls != 1 {
			t.Errorf("pending %v after %d firings; want a fired one-shot", tm.IsPending(id), calls)
		}
		tm.Set(id, Infinite, 0)
		if r := d.Core().ProcessEvents(-time.Hour); r != ExitTimeout {
			t.Errorf("ProcessEvents(-1h) = %v, want ExitTimeout", r)
		}
		tm.ReleaseRef(id)
	})
}

// TestTimerRearmToInfinite: a timer about to fire, re-armed to Infinite,
// never fires, and the loop blocks on it instead of waking for the
// deadline it had.
func TestTimerRearmToInfinite(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *Driver) {
		tm, core := d.Timers(), d.Core()
		id := tm.Create()
		tm.Set(id, time.Millisecond, time.Millisecond)
		calls := 0
		tm.Wait(id, func(TimerID, bool) { calls++ })
		tm.Set(id, Infinite, 0)
		if r := core.ProcessEvents(50 * time.Millisecond); r != ExitTimeout || calls != 0 {
			t.Fatalf("ProcessEvents = %v with %d callbacks; want ExitTimeout and none", r, calls)
		}
		if wait := d.l.nextTimerWait(d.l.now()); wait != Infinite {
			t.Fatalf("the loop would wait %v for a timer set to Infinite", wait)
		}
		stop := time.AfterFunc(50*time.Millisecond, core.Exit)
		if r := core.ProcessEvents(Infinite); r != ExitExited || calls != 0 {
			t.Fatalf("ProcessEvents(Infinite) = %v with %d callbacks; want ExitExited and none", r, calls)
		}
		stop.Stop()
		if !tm.IsPending(id) || tm.IsPeriodic(id) {
			t.Error("the timer set to Infinite is not a pending one-shot")
		}
		tm.Stop(id)
		tm.ReleaseRef(id)
	})
}

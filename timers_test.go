package eventcore

import (
	"math/rand/v2"
	"testing"
	"time"
)

func TestTimerOneShot(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *Driver) {
		tm := d.Timers()
		id := tm.Create()
		if tm.IsPending(id) || tm.IsPeriodic(id) || !tm.IsUnique(id) {
			t.Fatal("new timer: pending, periodic or shared")
		}
		start := time.Now()
		tm.Set(id, 30*time.Millisecond, 0)
		if !tm.IsPending(id) {
			t.Fatal("set timer is not pending")
		}
		calls, fired := 0, false
		var at time.Time
		if !tm.Wait(id, func(got TimerID, f bool) { calls, fired, at = calls+1, f, time.Now(); _ = got }) {
			t.Fatal("Wait refused")
		}
		if tm.Wait(id, func(TimerID, bool) {}) {
			t.Error("a second pending Wait was accepted")
		}
		runUntil(t, d, "timer", func() bool { return calls > 0 })
		runFor(d, 20*time.Millisecond)
		if calls != 1 || !fired {
			t.Fatalf("callback ran %d times, fired=%v", calls, fired)
		}
		if at.Sub(start) < 30*time.Millisecond {
			t.Errorf("timer fired early: after %v", at.Sub(start))
		}
		if tm.IsPending(id) || d.Core().WaiterCount() != 0 {
			t.Error("fired one-shot timer still pending or counted")
		}
		if tm.ReleaseRef(id) {
			t.Error("ReleaseRef of the last reference reported the timer alive")
		}
	})
}

func TestTimerPeriodic(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *Driver) {
		tm := d.Timers()
		id := tm.Create()
		const period = 20 * time.Millisecond
		start := time.Now()
		tm.Set(id, period, period)
		if !tm.IsPeriodic(id) {
			t.Fatal("IsPeriodic false")
		}
		firstDeadline := d.l.timers.get(id.h, kindTimer).v.when
		var times []time.Time
		var deadlines []int64
		var cb TimerCallback
		cb = func(id TimerID, fired bool) {
			if !fired {
				t.Error("periodic wait called with fired=false")
			}
			times = append(times, time.Now())
			deadlines = append(deadlines, d.l.timers.get(id.h, kindTimer).v.when)
			if len(times) < 5 {
				tm.Wait(id, cb)
			}
		}
		tm.Wait(id, cb)
		runUntil(t, d, "5 periods", func() bool { return len(times) == 5 })
		for i, at := range times {
			if min := time.Duration(i+1) * period; at.Sub(start) < min {
				t.Errorf("period %d fired after %v, before %v", i+1, at.Sub(start), min)
			}
		}
		// No drift: each next deadline is the first plus whole periods,
		// however late a callback ran.
		for i, dl := range deadlines {
			if off := dl - firstDeadline; off <= 0 || off%int64(period) != 0 || off > int64(i+1)*int64(period)*10 {
				t.Errorf("deadline after period %d is %v past the first: not on the cadence", i+1, time.Duration(off))
			}
		}
		if !tm.IsPending(id) || d.Core().WaiterCount() != 1 {
			t.Error("periodic timer stopped by itself")
		}
		tm.Stop(id)
		if tm.IsPending(id) || d.Core().WaiterCount() != 0 {
			t.Error("Stop left the timer pending or counted")
		}
		tm.ReleaseRef(id)
	})
}

func TestTimerStopCallsWaitWithFalse(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *Driver) {
		tm := d.Timers()
		id := tm.Create()
		tm.Set(id, time.Hour, 0)
		calls, fired := 0, true
		tm.Wait(id, func(_ TimerID, f bool) { calls++; fired = f })
		tm.Stop(id)
		if calls != 1 || fired {
			t.Fatalf("Stop: callback ran %d times, fired=%v; want once with false", calls, fired)
		}
		tm.Stop(id) // stopping a stopped timer is harmless
		tm.Set(id, time.Millisecond, 0)
		runFor(d, 20*time.Millisecond)
		if calls != 1 {
			t.Fatalf("callback ran again after Stop: %d calls", calls)
		}
		tm.ReleaseRef(id)
	})
}

func TestTimerCancelWait(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *Driver) {
		tm := d.Timers()
		id := tm.Create()
		tm.Set(id, 5*time.Millisecond, 0)
		called := false
		tm.Wait(id, func(TimerID, bool) { called = true })
		tm.CancelWait(id)
		if !tm.IsUnique(id) {
			t.Error("CancelWait did not drop the wait's reference")
		}
		runUntil(t, d, "timer to expire", func() bool { return !tm.IsPending(id) })
		if called {
			t.Fatal("cancelled wait was called")
		}
		tm.ReleaseRef(id)
	})
}

func TestTimerRearmKeepsWait(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *Driver) {
		tm := d.Timers()
		id := tm.Create()
		tm.Set(id, time.Hour, 0)
		calls := 0
		tm.Wait(id, func(TimerID, bool) { calls++ })
		tm.Set(id, time.Millisecond, 0) // moves the deadline; the wait stays
		if calls != 0 || d.Core().WaiterCount() != 1 {
			t.Fatalf("re-arm: %d calls, WaiterCount %d", calls, d.Core().WaiterCount())
		}
		runUntil(t, d, "re-armed timer", func() bool { return calls == 1 })
		tm.ReleaseRef(id)
	})
}

func TestTimerFireAndForget(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *Driver) {
		tm := d.Timers()
		id := tm.Create()
		tm.Set(id, time.Millisecond, 0)
		fired := false
		tm.Wait(id, func(TimerID, bool) { fired = true })
		if !tm.ReleaseRef(id) {
			t.Fatal("timer freed while its wait holds it")
		}
		runUntil(t, d, "timer", func() bool { return fired })
		if tm.IsPending(id) || len(d.OpenHandles()) != 0 {
			t.Fatalf("fired fire-and-forget timer still open: %+v", d.OpenHandles())
		}
	})
}

func TestTimerStarvedWaitIsCancelled(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *Driver) {
		tm := d.Timers()
		id := tm.Create()
		called := false
		tm.Wait(id, func(TimerID, bool) { called = true })
		if tm.ReleaseRef(id) {
			t.Fatal("unarmed timer with only its wait's reference stayed alive")
		}
		if called || len(d.OpenHandles()) != 0 {
			t.Fatal("starved wait was called or the timer leaked")
		}
	})
}

func TestTimerZeroRearmDoesNotSpin(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *Driver) {
		tm := d.Timers()
		id := tm.Create()
		n := 0
		var cb TimerCallback
		cb = func(id TimerID, _ bool) {
			n++
			tm.Set(id, 0, 0)
			tm.Wait(id, cb)
		}
		tm.Set(id, 0, 0)
		tm.Wait(id, cb)
		for range 3 {
			if r := d.Core().ProcessEvents(Infinite); r != ExitIdle {
				t.Fatalf("ProcessEvents = %v", r)
			}
		}
		if n < 1 || n > 3 {
			t.Fatalf("timer re-armed with a zero timeout fired %d times in 3 rounds", n)
		}
		tm.CancelWait(id)
		tm.ReleaseRef(id)
	})
}

func TestTimerManyOrdered(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *Driver) {
		tm := d.Timers()
		const n = 200
		var order []int64 // deadlines in the order the timers fired
		ids := make([]TimerID, n)
		for i := range n {
			ids[i] = tm.Create()
			j := (i * 7919) % n // a permutation of the timeouts
			tm.Set(ids[i], time.Duration(j)*100*time.Microsecond, 0)
			when := d.l.timers.get(ids[i].h, kindTimer).v.when
			tm.Wait(ids[i], func(_ TimerID, fired bool) {
				if fired {
					order = append(order, when)
				}
			})
			tm.ReleaseRef(ids[i])
		}
		// Stop every tenth: its wait runs with fired=false at once.
		stopped := 0
		for i := 0; i < n; i += 10 {
			tm.Stop(ids[i])
			stopped++
		}
		runUntil(t, d, "all timers", func() bool { return len(order) == n-stopped })
		for i := 1; i < len(order); i++ {
			if order[i] < order[i-1] {
				t.Fatalf("timer with deadline %d fired after one with %d", order[i], order[i-1])
			}
		}
		if len(d.OpenHandles()) != 0 {
			t.Fatal("timers leaked")
		}
	})
}

func TestTimerInvalidHandles(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *Driver) {
		tm := d.Timers()
		id := tm.Create()
		tm.ReleaseRef(id)
		again := tm.Create() // reuses the slot under a new generation
		for _, bad := range []TimerID{{}, id, {h: handle(0xdeadbeef12345678)}, {h: again.h ^ 1}, {h: makeHandle(kindEvent, 0, again.h.gen())}} {
			if tm.Set(bad, time.Millisecond, 0) || tm.IsPending(bad) || tm.IsPeriodic(bad) || tm.IsUnique(bad) ||
				tm.Wait(bad, func(TimerID, bool) { t.Error("callback on an invalid timer") }) || tm.ReleaseRef(bad) {
				t.Errorf("invalid timer %v accepted", bad)
			}
			tm.Stop(bad)
			tm.CancelWait(bad)
			tm.AddRef(bad)
			if d.LastError(bad) != ErrInvalidHandle {
				t.Errorf("LastError(%v) = %v", bad, d.LastError(bad))
			}
		}
		if !tm.IsUnique(again) || tm.IsPending(again) {
			t.Fatal("operations on invalid handles touched the live timer")
		}
		tm.ReleaseRef(again)
	})
}

// checkTimerHeap fails the test unless the heap is one: every key at least
// its parent's, each slot's key the timer's own key, no later than its
// deadline, and each timer knowing its slot.
func checkTimerHeap(t *testing.T, l *loop) {
	t.Helper()
	for i, r := range l.timerHeap {
		e := l.timers.at(r.idx)
		parent := (i - 1) / timerArity
		switch {
		case i > 0 && l.timerHeap[parent].key > r.key:
			t.Fatalf("heap slot %d: key %d before its parent's %d", i, r.key, l.timerHeap[parent].key)
		case e.v.key != r.key || e.v.key > e.v.when:
			t.Fatalf("heap slot %d: key %d, timer's key %d, deadline %d", i, r.key, e.v.key, e.v.when)
		case int(e.v.heapIdx) != i:
			t.Fatalf("heap slot %d holds a timer that thinks it is in slot %d", i, e.v.heapIdx)
		}
	}
}

// checkNextTimer fails the test unless the loop would wait for the
// earliest deadline among the armed timers of ids.
func checkNextTimer(t *testing.T, l *loop, ids []TimerID) {
	t.Helper()
	earliest := int64(never)
	for _, id := range ids {
		if e := l.timers.get(id.h, kindTimer); e.v.heapIdx >= 0 {
			earliest = min(earliest, e.v.when)
		}
	}
	now := l.now()
	if got, want := l.nextTimerWait(now), waitUntil(now, earliest); got != want {
		t.Fatalf("the loop would wait %v, the earliest timer is due in %v", got, want)
	}
}

// Re-arms to later and earlier deadlines, stops, releases and new timers,
// at random: the heap stays a heap, and the earliest deadline the loop
// waits for is the earliest armed timer's.
func TestTimerRearmKeepsHeap(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *Driver) {
		tm, l := d.Timers(), d.l
		rng := rand.New(rand.NewPCG(1, 2))
		ids := make([]TimerID, 500)
		for i := range ids {
			ids[i] = tm.Create()
		}
		for range 20000 {
			i := rng.IntN(len(ids))
			switch op := rng.IntN(10); {
			case op < 7:
				tm.Set(ids[i], time.Hour+time.Duration(rng.IntN(1000))*time.Second, 0)
			case op < 8:
				tm.Stop(ids[i])
			case op < 9:
				tm.Set(ids[i], Infinite, 0)
			default:
				tm.ReleaseRef(ids[i])
				ids[i] = tm.Create()
			}
			checkTimerHeap(t, l)
			if rng.IntN(20) == 0 {
				checkNextTimer(t, l, ids)
				checkTimerHeap(t, l)
			}
		}
		checkNextTimer(t, l, ids)
		checkTimerHeap(t, l)
		for _, id := range ids {
			tm.ReleaseRef(id)
		}
	})
}

// A timer re-armed to a later deadline does not fire at the earlier one,
// and the loop does not take the earlier one for the next deadline.
func TestTimerRearmLater(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *Driver) {
		tm := d.Timers()
		id := tm.Create()
		tm.Set(id, time.Millisecond, 0)
		calls := 0
		tm.Wait(id, func(TimerID, bool) { calls++ })
		tm.Set(id, time.Hour, 0)
		if wait := d.l.nextTimerWait(d.l.now()); wait < 30*time.Minute {
			t.Fatalf("next deadline in %v after a re-arm to an hour", wait)
		}
		if r := d.Core().ProcessEvents(50 * time.Millisecond); r != ExitTimeout || calls != 0 {
			t.Fatalf("ProcessEvents = %v with %d callbacks; want ExitTimeout and none", r, calls)
		}
		if !tm.IsPending(id) || d.Core().WaiterCount() != 1 {
			t.Fatal("the re-armed timer is not pending")
		}
		tm.Set(id, 0, 0) // and back to earlier than ever
		runUntil(t, d, "the timer re-armed to now", func() bool { return calls == 1 })
		tm.ReleaseRef(id)
	})
}

// Timers due together: the first callback re-arms the others to an hour
// later, so none of them fires, in that round or after.
func TestTimerRearmDueTimerLater(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *Driver) {
		tm := d.Timers()
		ids := make([]TimerID, 5)
		calls := 0
		for i := range ids {
			ids[i] = tm.Create()
			tm.Set(ids[i], 0, 0)
			tm.Wait(ids[i], func(self TimerID, fired bool) {
				if calls++; calls == 1 {
					for _, o := range ids {
						if o != self {
							tm.Set(o, time.Hour, 0)
						}
					}
				}
			})
		}
		runUntil(t, d, "the first timer", func() bool { return calls > 0 })
		runFor(d, 50*time.Millisecond)
		if calls != 1 || d.Core().WaiterCount() != len(ids)-1 {
			t.Fatalf("%d timers fired, %d armed; want 1 and %d", calls, d.Core().WaiterCount(), len(ids)-1)
		}
		for _, id := range ids {
			tm.Stop(id)
			tm.ReleaseRef(id)
		}
	})
}

// Timers re-armed many times, later and earlier, some stopped: each fires
// once, at or after its last deadline, in the order of the last deadlines.
func TestTimerRearmManyOrdered(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *Driver) {
		tm := d.Timers()
		rng := rand.New(rand.NewPCG(5, 6))
		const n = 300
		var order []int64 // last deadlines, in the order the timers fired
		ids := make([]TimerID, n)
		for i := range ids {
			ids[i] = tm.Create()
			tm.Wait(ids[i], func(id TimerID, fired bool) {
				if !fired {
					return
				}
				when := d.l.timers.get(id.h, kindTimer).v.when
				if now := d.l.now(); now < when {
					t.Errorf("timer fired at %d, before its deadline %d", now, when)
				}
				order = append(order, when)
			})
		}
		for range 5 * n {
			tm.Set(ids[rng.IntN(n)], time.Duration(rng.IntN(40))*time.Millisecond, 0)
		}
		for _, id := range ids {
			tm.Set(id, time.Duration(rng.IntN(40))*time.Millisecond, 0)
		}
		for i := 0; i < n; i += 7 {
			tm.Stop(ids[i])
		}
		stopped := (n + 6) / 7
		runUntil(t, d, "all timers", func() bool { return len(order) == n-stopped })
		for i := 1; i < len(order); i++ {
			if order[i] < order[i-1] {
				t.Fatalf("timer with deadline %d fired after one with %d", order[i], order[i-1])
			}
		}
		for _, id := range ids {
			tm.ReleaseRef(id)
		}
		if len(d.OpenHandles()) != 0 {
			t.Fatal("timers leaked")
		}
	})
}

// BenchmarkTimerRearmAmong10k re-arms timers among 10,000 armed periodic
// ones, to deadlines an hour and up to a minute away, in the order the
// bench's "timers re-arm among 10k" uses (bench/cmd/bench/timers.go). Two
// sub-benchmarks run the same sequence beside the drivers, to be compared
// in one invocation: Timer.Reset, what the bench compares with, and clock,
// which stores the deadline and does nothing else, the floor of a re-arm
// that counts from the call.
func BenchmarkTimerRearmAmong10k(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 4))
	jitter := make([]time.Duration, 4096)
	for i := range jitter {
		jitter[i] = time.Hour + time.Duration(rng.Int64N(int64(time.Minute)))
	}
	const armed = 10000
	for _, name := range testDrivers(nil) {
		b.Run(name, func(b *testing.B) {
			d, err := New(WithDriver(name))
			if err != nil {
				b.Fatal(err)
			}
			defer d.Dispose()
			tm := d.Timers()
			ids := make([]TimerID, armed)
			for i := range ids {
				ids[i] = tm.Create()
				tm.Set(ids[i], jitter[i%len(jitter)], time.Hour)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				tm.Set(ids[(i*7919)%armed], jitter[i%len(jitter)], time.Hour)
			}
			b.StopTimer()
			for _, id := range ids {
				tm.ReleaseRef(id)
			}
		})
	}
	b.Run("Timer.Reset", func(b *testing.B) {
		ts := make([]*time.Timer, armed)
		for i := range ts {
			ts[i] = time.AfterFunc(jitter[i%len(jitter)], func() {})
		}
		b.ResetTimer()
		for i := range b.N {
			ts[(i*7919)%armed].Reset(jitter[i%len(jitter)])
		}
		b.StopTimer()
		for _, t := range ts {
			t.Stop()
		}
	})
	b.Run("clock", func(b *testing.B) {
		deadlines := make([]int64, armed)
		for i := range b.N {
			deadlines[(i*7919)%armed] = nanotime() + int64(jitter[i%len(jitter)])
		}
	})
}

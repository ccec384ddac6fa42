package eventcore

import (
	"sync"
	"testing"
	"time"
)

func TestEventTriggerLocal(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *Driver) {
		evs := d.Events()
		ev := evs.Create()
		calls := make([]int, 3)
		for i := range calls {
			evs.Wait(ev, func(got EventID) {
				if got != ev {
					t.Errorf("callback got %v, want %v", got, ev)
				}
				calls[i]++
			})
		}
		if d.Core().WaiterCount() != 3 {
			t.Fatalf("WaiterCount = %d, want 3", d.Core().WaiterCount())
		}
		evs.Trigger(ev, false)
		if calls[0] != 0 {
			t.Fatal("Trigger ran a callback synchronously")
		}
		d.Core().ProcessEvents(0)
		if calls[0] != 1 || calls[1] != 0 || calls[2] != 0 {
			t.Fatalf("notifyAll=false woke %v, want only the oldest", calls)
		}
		evs.Trigger(ev, true)
		d.Core().ProcessEvents(0)
		if calls[0] != 1 || calls[1] != 1 || calls[2] != 1 || d.Core().WaiterCount() != 0 {
			t.Fatalf("notifyAll=true woke %v (WaiterCount %d)", calls, d.Core().WaiterCount())
		}
		// With no wait registered, a trigger is dropped, not latched.
		evs.Trigger(ev, true)
		d.Core().ProcessEvents(0)
		evs.Wait(ev, func(EventID) { t.Error("a dropped trigger woke a later wait") })
		d.Core().ProcessEvents(0)
		evs.ReleaseRef(ev)
		if d.Core().WaiterCount() != 0 {
			t.Fatal("releasing the event left its wait counted")
		}
	})
}

func TestEventTriggerFromGoroutine(t *testing.T) {
	for _, all := range []bool{false, true} {
		forEachDriver(t, func(t *testing.T, d *Driver) {
			evs := d.Events()
			ev := evs.Create()
			const waits = 4
			woken := 0
			for range waits {
				evs.Wait(ev, func(EventID) { woken++ })
			}
			go func() {
				time.Sleep(10 * time.Millisecond)
				evs.Trigger(ev, all)
			}()
			want := 1
			if all {
				want = waits
			}
			runUntil(t, d, "trigger from another goroutine", func() bool { return woken >= want })
			runFor(d, 10*time.Millisecond)
			if woken != want {
				t.Fatalf("notifyAll=%v woke %d waits, want %d", all, woken, want)
			}
			evs.ReleaseRef(ev)
		})
	}
}

func TestEventCancelWait(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *Driver) {
		evs := d.Events()
		ev := evs.Create()
		var order []int
		w1 := evs.Wait(ev, func(EventID) { order = append(order, 1) })
		w2 := evs.Wait(ev, func(EventID) { order = append(order, 2) })
		w3 := evs.Wait(ev, func(EventID) { order = append(order, 3) })
		if !evs.CancelWait(ev, w2) || evs.CancelWait(ev, w2) {
			t.Fatal("CancelWait: first should succeed, second fail")
		}
		other := evs.Create()
		if evs.CancelWait(other, w1) {
			t.Fatal("cancelled a wait through another event")
		}
		evs.Trigger(ev, true)
		d.Core().ProcessEvents(0)
		if len(order) != 2 || order[0] != 1 || order[1] != 3 {
			t.Fatalf("woken %v, want [1 3]", order)
		}
		_ = w3
		evs.ReleaseRef(other)
		evs.ReleaseRef(ev)
	})
}

func TestEventWaitInCallbackNotWokenBySameTrigger(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *Driver) {
		evs := d.Events()
		ev := evs.Create()
		n := 0
		var cb EventCallback
		cb = func(EventID) { n++; evs.Wait(ev, cb) }
		evs.Wait(ev, cb)
		evs.Trigger(ev, true)
		d.Core().ProcessEvents(0)
		if n != 1 || d.Core().WaiterCount() != 1 {
			t.Fatalf("re-waiting callback ran %d times (WaiterCount %d)", n, d.Core().WaiterCount())
		}
		evs.ReleaseRef(ev)
	})
}

func TestEventCancelledByEarlierCallback(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *Driver) {
		evs := d.Events()
		ev := evs.Create()
		var w2 EventWaitID
		evs.Wait(ev, func(EventID) { evs.CancelWait(ev, w2) })
		w2 = evs.Wait(ev, func(EventID) { t.Error("wait cancelled by an earlier callback of the same trigger ran") })
		evs.Trigger(ev, true)
		d.Core().ProcessEvents(0)
		evs.Wait(ev, func(EventID) { evs.ReleaseRef(ev) })
		evs.Wait(ev, func(EventID) { t.Error("wait of an event released by an earlier callback ran") })
		evs.Trigger(ev, true)
		d.Core().ProcessEvents(0)
		if d.Core().WaiterCount() != 0 {
			t.Fatal("waiters left")
		}
	})
}

func TestEventTriggerStorm(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *Driver) {
		evs := d.Events()
		ev := evs.Create()
		const goroutines, per = 8, 500
		woken := 0
		var cb EventCallback
		cb = func(EventID) { woken++; evs.Wait(ev, cb) }
		evs.Wait(ev, cb)
		var wg sync.WaitGroup
		for range goroutines {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range per {
					evs.Trigger(ev, false)
				}
			}()
		}
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		runUntil(t, d, "triggering goroutines", func() bool {
			select {
			case <-done:
				return true
			default:
				return false
			}
		})
		d.Core().ProcessEvents(0)
		// Every trigger found the re-registered wait: none was lost.
		if woken != goroutines*per {
			t.Fatalf("woken %d times, want %d", woken, goroutines*per)
		}
		evs.ReleaseRef(ev)
	})
}

func TestEventInvalidHandles(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *Driver) {
		evs := d.Events()
		ev := evs.Create()
		evs.ReleaseRef(ev)
		for _, bad := range []EventID{{}, ev, {h: handle(12345)}} {
			if w := evs.Wait(bad, func(EventID) { t.Error("callback on an invalid event") }); w != (EventWaitID{}) {
				t.Errorf("Wait on %v returned %v", bad, w)
			}
			evs.Trigger(bad, true)
			evs.AddRef(bad)
			if evs.ReleaseRef(bad) || evs.CancelWait(bad, EventWaitID{}) {
				t.Errorf("invalid event %v accepted", bad)
			}
		}
		d.Core().ProcessEvents(0)
	})
}

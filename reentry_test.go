package eventcore

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// ProcessEvents called from inside a callback: it first finishes the batch
// the callback is part of, then waits anew; every callback runs once, and
// the outer ProcessEvents carries on with nothing lost or repeated.

func TestNestedProcessEventsKeepsQueuedFunctions(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *Driver) {
		const total = 250
		c := d.Core()
		var mu sync.Mutex
		var ran [total]int
		queued := make(chan struct{})
		go func() {
			defer close(queued)
			for i := range total {
				c.RunInOwnerThread(func() {
					mu.Lock()
					ran[i]++
					mu.Unlock()
					if i%10 == 0 {
						c.ProcessEvents(0)
					}
				})
			}
		}()
		done := func() bool {
			mu.Lock()
			defer mu.Unlock()
			for _, n := range ran {
				if n == 0 {
					return false
				}
			}
			return true
		}
		<-queued
		runUntil(t, d, "every function", done)
		c.ProcessEvents(0) // a later top-level call finds the queue intact
		for i, n := range ran {
			if n != 1 {
				t.Fatalf("function %d ran %d times", i, n)
			}
		}
	})
}

// The poller's batch: a read callback that makes two more sockets readable
// and calls ProcessEvents, while two others of its batch wait their turn.
func TestNestedProcessEventsKeepsReadyBatch(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *Driver) {
		s := d.Sockets()
		var cl, sv [5]StreamSocket
		for i := range cl {
			cl[i], sv[i] = streamPair(t, d, MustParseAddr("127.0.0.1:0"))
		}
		var calls [5]int
		nested := false
		buf := make([]byte, 4)
		for i, c := range sv {
			s.Read(c, buf, IOModeOnce, func(StreamSocket, IOStatus, int) {
				calls[i]++
				if i < 3 && !nested {
					nested = true
					for _, c := range cl[3:] {
						s.Write(c, []byte("x"), IOModeAll, func(StreamSocket, IOStatus, int) {})
					}
					d.Core().ProcessEvents(0)
				}
			})
		}
		for _, c := range cl[:3] {
			s.Write(c, []byte("x"), IOModeAll, func(StreamSocket, IOStatus, int) {})
		}
		runUntil(t, d, "every read", func() bool {
			for _, n := range calls {
				if n == 0 {
					return false
				}
			}
			return true
		})
		if calls != [5]int{1, 1, 1, 1, 1} {
			t.Fatalf("read callbacks ran %v times", calls)
		}
		for i := range cl {
			s.ReleaseRef(cl[i])
			s.ReleaseRef(sv[i])
		}
	})
}

// TriggerAll whose first waiter calls ProcessEvents: the others run once.
func TestNestedProcessEventsInEventWaiter(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *Driver) {
		evs := d.Events()
		ev := evs.Create()
		var calls [3]int
		for i := range calls {
			evs.Wait(ev, func(EventID) {
				if calls[i]++; i == 0 {
					d.Core().ProcessEvents(0)
				}
			})
		}
		evs.Trigger(ev, true)
		d.Core().ProcessEvents(0)
		if calls != [3]int{1, 1, 1} {
			t.Fatalf("waiters called %v times, want once each", calls)
		}
		evs.ReleaseRef(ev)
	})
}

// A signal listener made by a signal callback hears the next signal, not
// the one being delivered.
func TestSignalListenerAddedInCallback(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *Driver) {
		sigs := d.Signals()
		var first, second int
		var added SignalID
		id, err := sigs.Listen(quietSignal, func(SignalID, SignalStatus, os.Signal) {
			if first++; first == 1 {
				added, _ = sigs.Listen(quietSignal, func(SignalID, SignalStatus, os.Signal) { second++ })
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		d.l.xq.push(crossItem{op: crossSignal, x: quietSignal})
		d.Core().ProcessEvents(0)
		if first != 1 || second != 0 {
			t.Fatalf("first delivery: listeners called %d and %d times, want 1 and 0", first, second)
		}
		d.l.xq.push(crossItem{op: crossSignal, x: quietSignal})
		d.Core().ProcessEvents(0)
		if first != 2 || second != 1 {
			t.Fatalf("second delivery: listeners called %d and %d times, want 2 and 1", first, second)
		}
		sigs.ReleaseRef(id)
		sigs.ReleaseRef(added)
	})
}

// The same for a signal listener made in a listener of another signal
// delivered in the same batch, and for the waits of events and processes:
// what a callback registers waits for the next occurrence.
func TestEventWaitAddedInTriggerCallback(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *Driver) {
		evs := d.Events()
		ev := evs.Create()
		var first, second int
		evs.Wait(ev, func(EventID) {
			first++
			evs.Wait(ev, func(EventID) { second++ })
		})
		evs.Trigger(ev, true)
		d.Core().ProcessEvents(0)
		if first != 1 || second != 0 {
			t.Fatalf("waits called %d and %d times, want 1 and 0", first, second)
		}
		evs.Trigger(ev, true)
		d.Core().ProcessEvents(0)
		if second != 1 {
			t.Fatalf("the wait added by the callback was called %d times on the next trigger", second)
		}
		evs.ReleaseRef(ev)
	})
}

// A watcher made by a watcher's callback hears of the changes made after
// it, not of those reported with the one that made it.
func TestWatcherAddedInCallback(t *testing.T) {
	forEachDriverAnd(t, watcherStandIns, func(t *testing.T, d *Driver) {
		dir := tempDir(t)
		ws := d.Watchers()
		var first, second []string
		var added WatcherID
		w, err := ws.WatchDirectory(dir, false, func(_ WatcherID, c FileChange) {
			if c.Kind != FileChangeAdded {
				return
			}
			if first = append(first, c.Name); len(first) == 1 {
				var err error
				added, err = ws.WatchDirectory(dir, false, func(_ WatcherID, c FileChange) {
					if c.Kind == FileChangeAdded {
						second = append(second, c.Name)
					}
				})
				if err != nil {
					t.Error(err)
				}
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"a", "b"} {
			if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		runUntil(t, d, "both files reported", func() bool { return len(first) == 2 })
		if err := os.WriteFile(filepath.Join(dir, "c"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		runUntil(t, d, "the third file reported", func() bool { return len(first) == 3 && len(second) > 0 })
		if len(second) != 1 || second[0] != "c" {
			t.Fatalf("the watcher made in the callback heard of %q, want only c", second)
		}
		ws.ReleaseRef(w)
		ws.ReleaseRef(added)
	})
}

// A timer armed by a timer's callback to expire at once fires on the next
// round, not in the round that ran the callback; a timer callback may call
// ProcessEvents.
func TestTimerArmedInCallbackWaitsForNextRound(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *Driver) {
		tm := d.Timers()
		a, b := tm.Create(), tm.Create()
		var aFired, bFired int
		tm.Set(a, 0, 0)
		tm.Wait(a, func(TimerID, bool) {
			aFired++
			tm.Set(b, 0, 0)
			tm.Wait(b, func(TimerID, bool) { bFired++ })
		})
		d.Core().ProcessEvents(0)
		if aFired != 1 || bFired != 0 {
			t.Fatalf("first round: timers fired %d and %d times, want 1 and 0", aFired, bFired)
		}
		d.Core().ProcessEvents(0)
		if bFired != 1 {
			t.Fatalf("second round: the timer armed by the callback fired %d times", bFired)
		}
		tm.Set(a, 0, 0)
		tm.Wait(a, func(TimerID, bool) {
			aFired++
			tm.Set(b, 0, 0)
			tm.Wait(b, func(TimerID, bool) { bFired++ })
			d.Core().ProcessEvents(0) // a round of its own: b fires there
		})
		d.Core().ProcessEvents(0)
		if aFired != 2 || bFired != 2 {
			t.Fatalf("nested: timers fired %d and %d times, want 2 and 2", aFired, bFired)
		}
		tm.ReleaseRef(a)
		tm.ReleaseRef(b)
	})
}

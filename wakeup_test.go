package eventcore

import (
	"slices"
	"testing"
	"time"
	"unsafe"
)

// The cross-goroutine path (wakeup.go, park_runtime.go, "Spinning" in
// loop.go): what other goroutines ask runs in the order they asked it,
// repeated triggers are each delivered, a kick wakes a loop asleep with a
// deadline without leaving it spinning, and a stream of such work does
// not hold back I/O.

// TestCrossOrderKept: triggers (repeated ones counted together by the
// queue), TriggerAll and queued functions from one goroutine run in the
// order it asked for them.
func TestCrossOrderKept(t *testing.T) {
	forEachDriverAnd(t, wakeStandIns, func(t *testing.T, d *Driver) {
		evs, core := d.Events(), d.Core()
		a, b := evs.Create(), evs.Create()
		defer evs.ReleaseRef(a)
		defer evs.ReleaseRef(b)
		var got []string
		var onA, onB EventCallback
		onA = func(EventID) { got = append(got, "a"); evs.Wait(a, onA) }
		onB = func(EventID) { got = append(got, "b"); evs.Wait(b, onB) }
		evs.Wait(a, onA)
		evs.Wait(b, onB)
		// A second wait on b, which only a TriggerAll reaches.
		evs.Wait(b, func(EventID) { got = append(got, "b2") })
		run := func(s string) func() { return func() { got = append(got, s) } }

		done := make(chan struct{})
		go func() {
			defer close(done)
			evs.Trigger(a, false)
			evs.Trigger(a, false)
			evs.Trigger(a, false)
			core.RunInOwnerThread(run("f1"))
			evs.Trigger(b, false)
			evs.Trigger(a, false)
			evs.Trigger(b, true)
			core.RunInOwnerThread(run("f2"))
			evs.Trigger(a, false)
		}()
		<-done
		// b's TriggerAll finds b2 first: onB renewed its wait after it.
		want := []string{"a", "a", "a", "f1", "b", "a", "b2", "b", "f2", "a"}
		runUntil(t, d, "every item", func() bool { return len(got) >= len(want) })
		if !slices.Equal(got, want) {
			t.Fatalf("ran %v, want %v", got, want)
		}
	})
}

// TestRepeatedTriggersEachDelivered: triggers queued faster than the loop
// runs them are counted, not merged: a wait renewed by its callback hears
// every one, and without a wait the rest are dropped as always.
func TestRepeatedTriggersEachDelivered(t *testing.T) {
	forEachDriverAnd(t, wakeStandIns, func(t *testing.T, d *Driver) {
		evs := d.Events()
		renewed, once := evs.Create(), evs.Create()
		defer evs.ReleaseRef(renewed)
		defer evs.ReleaseRef(once)
		const n = 10000
		heard, heardOnce := 0, 0
		var cb EventCallback
		cb = func(EventID) {
			heard++
			evs.Wait(renewed, cb)
		}
		evs.Wait(renewed, cb)
		evs.Wait(once, func(EventID) { heardOnce++ })
		done := make(chan struct{})
		go func() {
			defer close(done)
			for range n {
				evs.Trigger(renewed, false)
				evs.Trigger(once, false)
			}
		}()
		<-done
		runUntil(t, d, "every trigger", func() bool { return heard == n })
		runFor(d, 20*time.Millisecond)
		if heard != n || heardOnce != 1 {
			t.Fatalf("renewed wait heard %d triggers, single wait %d; want %d and 1", heard, heardOnce, n)
		}
	})
}

// TestWakeFromDeadlineSleep: a loop asleep until a timer is woken by
// another goroutine, and then sleeps again rather than spinning, the
// timer still armed.
func TestWakeFromDeadlineSleep(t *testing.T) {
	forEachDriverAnd(t, wakeStandIns, func(t *testing.T, d *Driver) {
		tm := d.Timers().Create()
		defer d.Timers().ReleaseRef(tm)
		fired := false
		d.Timers().Set(tm, time.Hour, 0)
		d.Timers().Wait(tm, func(_ TimerID, f bool) { fired = fired || f })
		for round := range 3 {
			ran := false
			go func() {
				// Once the loop is likely asleep; it must wake either way.
				time.Sleep(5 * time.Millisecond)
				d.Core().RunInOwnerThread(func() { ran = true })
			}()
			runUntil(t, d, "the queued function", func() bool { return ran })
			// Nothing is due now: the loop must wait, a few times at most
			// (a kick that came late may wake it once), not spin.
			before := d.l.waitGen
			d.Core().ProcessEvents(30 * time.Millisecond)
			if waits := d.l.waitGen - before; waits > 3 {
				t.Fatalf("round %d: %d waits in one quiet ProcessEvents: the loop spins", round, waits)
			}
		}
		if fired || !d.Timers().IsPending(tm) {
			t.Fatalf("the hour timer fired (%v) or was lost (pending %v)", fired, d.Timers().IsPending(tm))
		}
		d.Timers().Stop(tm)
	})
}

// TestCrossFloodDoesNotHoldBackIO: while queued functions keep the queue
// full (each queues itself again), so that the loop always has work from
// it, a read still completes.
func TestCrossFloodDoesNotHoldBackIO(t *testing.T) {
	forEachDriverAnd(t, wakeStandIns, func(t *testing.T, d *Driver) {
		client, server := streamPair(t, d, MustParseAddr("127.0.0.1:0"))
		defer d.Sockets().ReleaseRef(client)
		defer d.Sockets().ReleaseRef(server)
		stop, ran := false, 0
		var again func()
		again = func() {
			ran++
			if !stop {
				d.Core().RunInOwnerThread(again)
			}
		}
		for range 4 {
			d.Core().RunInOwnerThread(again)
		}
		runUntil(t, d, "the flood to start", func() bool { return ran > 100 })
		buf := make([]byte, 4)
		read := false
		d.Sockets().Read(server, buf, IOModeAll, func(_ StreamSocket, st IOStatus, n int) {
			read = st == IOStatusOK && n == 4
		})
		d.Sockets().Write(client, []byte("ping"), IOModeAll, func(StreamSocket, IOStatus, int) {})
		runUntil(t, d, "the read", func() bool { return read })
		stop = true
		runFor(d, 10*time.Millisecond)
	})
}

// TestCrossQueueOwnLines guards the loop's layout: other goroutines reach
// xq through the loop pointer, whose nil check reads the struct's first
// bytes, so neither those bytes nor the lines around xq may hold fields the
// loop writes. Trigger from another goroutine took twice as long when the
// loop's counters shared the first line.
func TestCrossQueueOwnLines(t *testing.T) {
	const line = 64
	var l loop
	start := unsafe.Offsetof(l.xq)
	end := start + unsafe.Sizeof(l.xq)
	if start < line {
		t.Errorf("xq starts at byte %d of the loop, want at least %d", start, line)
	}
	if next := unsafe.Offsetof(l.name); next < end+line {
		t.Errorf("the loop's fields start %d bytes after xq, want at least %d", int(next)-int(end), line)
	}
}

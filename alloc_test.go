package eventcore

import (
	"path/filepath"
	"testing"
	"time"
)

// Steady-state hot paths allocate nothing: these tests fail if one does.
// Callbacks are method values made once, as a server would keep them.

func skipUnderRace(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's instrumentation allocates")
	}
}

func TestAllocsStreamRoundTrip(t *testing.T) {
	skipUnderRace(t)
	forEachDriver(t, func(t *testing.T, d *Driver) {
		s := d.Sockets()
		c, srv := streamPair(t, d, MustParseAddr("127.0.0.1:0"))
		msg, buf := make([]byte, 64), make([]byte, 64)
		var w, r ioResult
		wcb, rcb := w.cb, r.cb
		roundTrip := func() {
			w, r = ioResult{}, ioResult{}
			s.Read(srv, buf, IOModeAll, rcb)
			s.Write(c, msg, IOModeAll, wcb)
			for !r.done || !w.done {
				d.Core().ProcessEvents(hangLimit)
			}
		}
		roundTrip()
		if n := testing.AllocsPerRun(1000, roundTrip); n != 0 {
			t.Errorf("read+write round trip: %v allocations", n)
		}
		s.ReleaseRef(c)
		s.ReleaseRef(srv)
	})
}

func TestAllocsDatagram(t *testing.T) {
	skipUnderRace(t)
	forEachDriver(t, func(t *testing.T, d *Driver) {
		s := d.Sockets()
		a := newDgram(t, d, MustParseAddr("127.0.0.1:0"), Addr{})
		b := newDgram(t, d, MustParseAddr("127.0.0.1:0"), Addr{})
		to := mustLocal(t, s, b)
		msg, buf := make([]byte, 64), make([]byte, 64)
		var w, r dgramResult
		wcb, rcb := w.cb, r.cb
		roundTrip := func() {
			w, r = dgramResult{}, dgramResult{}
			s.Receive(b, buf, IOModeOnce, rcb)
			s.Send(a, msg, IOModeOnce, to, wcb)
			for !r.done || !w.done {
				d.Core().ProcessEvents(hangLimit)
			}
		}
		roundTrip()
		if n := testing.AllocsPerRun(1000, roundTrip); n != 0 {
			t.Errorf("send+receive: %v allocations", n)
		}
		s.ReleaseRef(a)
		s.ReleaseRef(b)
	})
}

// noAllocs runs cycle until the tables and buffers it uses have grown to
// their steady size, then fails t if a cycle allocates; done frees what
// the cycle's setup made.
func noAllocs(t *testing.T, what string, cycle, done func()) {
	t.Helper()
	for range 300 {
		cycle()
	}
	if n := testing.AllocsPerRun(300, cycle); n != 0 {
		t.Errorf("%s: %v allocations", what, n)
	}
	done()
}

func TestAllocsAccept(t *testing.T) {
	skipUnderRace(t)
	forEachDriver(t, func(t *testing.T, d *Driver) {
		cycle, done := setupAccept(t, d)
		noAllocs(t, "accept+release", cycle, done)
	})
}

// setupAccept: one connection accepted and released. The client side uses
// plain system calls, so that only the driver's accept path is measured.
func setupAccept(tb testing.TB, d *Driver) (cycle, done func()) {
	s := d.Sockets()
	accepted := 0
	acb := func(_ StreamListener, c StreamSocket, _ Addr) { accepted++; s.ReleaseRef(c) }
	lst, err := s.ListenStream(MustParseAddr("127.0.0.1:0"), ListenDefaults, acb)
	if err != nil {
		tb.Fatal(err)
	}
	a, err := s.LocalAddress(lst)
	if err != nil {
		tb.Fatal(err)
	}
	cycle = func() {
		fd := rawSocket(tb, sockStream)
		if err := rawConnect(fd, a.Port()); err != nil {
			tb.Fatal(err)
		}
		want := accepted + 1
		for accepted < want {
			d.Core().ProcessEvents(hangLimit)
		}
		rawClose(fd)
	}
	return cycle, func() { s.ReleaseRef(lst) }
}

func TestAllocsTimers(t *testing.T) {
	skipUnderRace(t)
	forEachDriver(t, func(t *testing.T, d *Driver) {
		tm := d.Timers()
		id := tm.Create()
		if n := testing.AllocsPerRun(1000, func() { tm.Set(id, time.Hour, 0) }); n != 0 {
			t.Errorf("timer re-arm: %v allocations", n)
		}
		fired := false
		cb := func(TimerID, bool) { fired = true }
		fire := func() {
			fired = false
			tm.Set(id, 0, 0)
			tm.Wait(id, cb)
			for !fired {
				d.Core().ProcessEvents(hangLimit)
			}
		}
		fire()
		if n := testing.AllocsPerRun(1000, fire); n != 0 {
			t.Errorf("timer arm+wait+fire: %v allocations", n)
		}
		tm.ReleaseRef(id)
	})
}

func TestAllocsEvents(t *testing.T) {
	skipUnderRace(t)
	forEachDriver(t, func(t *testing.T, d *Driver) {
		cycle, done := setupEventTrigger(t, d)
		noAllocs(t, "event wait+trigger", cycle, done)
	})
}

// setupEventTrigger: an event waited for, triggered, and its callback run.
func setupEventTrigger(_ testing.TB, d *Driver) (cycle, done func()) {
	evs := d.Events()
	ev := evs.Create()
	woken := false
	cb := func(EventID) { woken = true }
	cycle = func() {
		woken = false
		evs.Wait(ev, cb)
		evs.Trigger(ev, false)
		for !woken {
			d.Core().ProcessEvents(hangLimit)
		}
	}
	return cycle, func() { evs.ReleaseRef(ev) }
}

func TestAllocsFile(t *testing.T) {
	skipUnderRace(t)
	dir := tempDir(t)
	forEachDriver(t, func(t *testing.T, d *Driver) {
		fs := d.Files()
		f, err := fs.Open(filepath.Join(dir, d.Name()), FileCreateTrunc)
		if err != nil {
			t.Fatal(err)
		}
		out, in := make([]byte, 4096), make([]byte, 4096)
		var w, r fileResult
		wcb, rcb := w.cb, r.cb
		cycle := func() {
			w, r = fileResult{}, fileResult{}
			fs.Write(f, 0, out, IOModeAll, wcb)
			fs.Read(f, 0, in, IOModeAll, rcb)
			for !w.done || !r.done {
				d.Core().ProcessEvents(hangLimit)
			}
		}
		cycle()
		if n := testing.AllocsPerRun(500, cycle); n != 0 {
			t.Errorf("file write+read: %v allocations", n)
		}
		fs.ReleaseRef(f)
	})
}

package eventcore

import (
	"errors"
	"testing"
	"time"
)

// runBoth processes events on two drivers in turn, from one goroutine,
// until cond holds.
func runBoth(t *testing.T, a, b *Driver, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(hangLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		a.Core().ProcessEvents(time.Millisecond)
		b.Core().ProcessEvents(time.Millisecond)
	}
}

// checkDetachedHandle checks that every use of a detached handle is refused.
func checkDetachedHandle(t *testing.T, d *Driver, sock StreamSocket) {
	t.Helper()
	s := d.Sockets()
	if _, err := s.Detach(sock); err != ErrInvalidHandle {
		t.Errorf("second Detach: %v", err)
	}
	if st := s.ConnectionState(sock); st != ConnectionClosed {
		t.Errorf("detached handle's state %v", st)
	}
	if err := d.LastError(sock); err != ErrInvalidHandle {
		t.Errorf("detached handle's LastError %v", err)
	}
	var r ioResult
	s.Read(sock, make([]byte, 1), IOModeOnce, r.cb)
	if !r.done || r.status != IOStatusInvalidHandle {
		t.Errorf("read on a detached handle: %+v", r)
	}
	if s.ReleaseRef(sock) {
		t.Error("detached handle survived a release")
	}
}

func TestDetachMovesSocket(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *Driver) {
		for _, name := range testDrivers(t) {
			t.Run("to-"+name, func(t *testing.T) {
				d.Core().ProcessEvents(0) // this goroutine takes the loop over
				checkNoFDLeak(t)
				testDetachMove(t, d, newTestDriver(t, name))
			})
			d.Core().ProcessEvents(0) // and the test's takes it back
		}
	})
}

func testDetachMove(t *testing.T, d, d2 *Driver) {
	s, s2 := d.Sockets(), d2.Sockets()
	client, server := streamPair(t, d, MustParseAddr("127.0.0.1:0"))
	defer s.ReleaseRef(client)
	var w ioResult
	s.Write(client, []byte("before"), IOModeAll, w.cb)
	runUntil(t, d, "write", func() bool { return w.done })
	s.AddRef(server) // Detach releases the handle whatever its count
	waiters := d.Core().WaiterCount()
	fd, err := s.Detach(server)
	if err != nil {
		t.Fatalf("Detach: %v", err)
	}
	checkDetachedHandle(t, d, server)
	if d.Core().WaiterCount() != waiters {
		t.Errorf("waiters %d, were %d", d.Core().WaiterCount(), waiters)
	}

	// Unregistered: the same driver adopts it again, and lets it go again.
	back, err := s.AdoptStream(fd)
	if err != nil {
		t.Fatalf("adopting the detached socket on its own driver: %v", err)
	}
	if fd, err = s.Detach(back); err != nil {
		t.Fatalf("Detach after adopting again: %v", err)
	}

	moved, err := s2.AdoptStream(fd)
	if err != nil {
		rawClose(fd)
		t.Fatalf("adopting on %s: %v", d2.Name(), err)
	}
	buf := make([]byte, len("before"))
	var r, r2 ioResult
	s2.Read(moved, buf, IOModeAll, r.cb)
	runUntil(t, d2, "the bytes sent before the move", func() bool { return r.done })
	if r.status != IOStatusOK || string(buf[:r.n]) != "before" {
		t.Fatalf("read after the move: %+v %q", r, buf[:r.n])
	}
	w = ioResult{}
	s2.Write(moved, []byte("after"), IOModeAll, w.cb)
	back2 := make([]byte, len("after"))
	s.Read(client, back2, IOModeAll, r2.cb)
	runBoth(t, d, d2, "the reply from the new loop", func() bool { return w.done && r2.done })
	if w.status != IOStatusOK || r2.status != IOStatusOK || string(back2) != "after" {
		t.Fatalf("write %+v, read %+v %q", w, r2, back2)
	}

	// The new driver owns the descriptor: its release closes it.
	s2.ReleaseRef(moved)
	r2 = ioResult{}
	s.Read(client, back2, IOModeOnce, r2.cb)
	runUntil(t, d, "the end of the stream", func() bool { return r2.done })
	if r2.status != IOStatusDisconnected {
		t.Fatalf("read after the new owner released the socket: %+v", r2)
	}
	if !d2.Dispose() {
		t.Errorf("handles left open on %s: %+v", d2.Name(), d2.OpenHandles())
	}
}

func TestDetachRefusesPending(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *Driver) {
		checkNoFDLeak(t)
		s := d.Sockets()
		client, server := streamPair(t, d, MustParseAddr("127.0.0.1:0"))
		defer s.ReleaseRef(client)
		defer s.ReleaseRef(server)

		buf := make([]byte, 8)
		var r ioResult
		s.Read(server, buf, IOModeOnce, r.cb)
		if _, err := s.Detach(server); !errors.Is(err, ErrBusy) {
			t.Fatalf("Detach with a read pending: %v", err)
		}
		if !errors.Is(d.LastError(server), ErrBusy) {
			t.Errorf("LastError %v", d.LastError(server))
		}
		// Nothing changed: the read completes.
		var w ioResult
		s.Write(client, []byte("x"), IOModeAll, w.cb)
		runUntil(t, d, "the read", func() bool { return r.done })
		if r.status != IOStatusOK || r.n != 1 {
			t.Fatalf("read after the refused Detach: %+v", r)
		}

		r = ioResult{}
		s.WaitForData(server, r.cb)
		if _, err := s.Detach(server); !errors.Is(err, ErrBusy) {
			t.Fatalf("Detach with WaitForData pending: %v", err)
		}
		s.CancelRead(server)
		fd, err := s.Detach(server)
		if err != nil {
			t.Fatalf("Detach after the cancel: %v", err)
		}
		rawClose(fd)
		runFor(d, 20*time.Millisecond)
		if r.done {
			t.Error("cancelled wait called")
		}

		sock, cleanup := pendingConnect(t, d, func(StreamSocket, ConnectStatus) { t.Error("cancelled connect called") })
		defer cleanup()
		if _, err := s.Detach(sock); !errors.Is(err, ErrBusy) {
			t.Errorf("Detach with a connect in progress: %v", err)
		}
		s.CancelConnectStream(sock)
	})
}

func TestDetachInvalid(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *Driver) {
		s := d.Sockets()
		if _, err := s.Detach(StreamSocket{}); err != ErrInvalidHandle {
			t.Errorf("Detach of the zero handle: %v", err)
		}
		client, server := streamPair(t, d, MustParseAddr("127.0.0.1:0"))
		s.ReleaseRef(client)
		s.ReleaseRef(server)
		if _, err := s.Detach(server); err != ErrInvalidHandle {
			t.Errorf("Detach of a released handle: %v", err)
		}

		// A failed connect leaves a valid handle without a descriptor. The
		// port a listener left can be taken again by another process before
		// the connect: then another one is tried.
		var sock StreamSocket
		status := ConnectStatus(255)
		for attempt := 1; ; attempt++ {
			status = 255
			sock = s.ConnectStream(leftPort(s), Addr{}, func(_ StreamSocket, st ConnectStatus) { status = st })
			runUntil(t, d, "refusal", func() bool { return status != 255 })
			if status != ConnectStatusConnected {
				break
			}
			s.ReleaseRef(sock)
			if attempt == 10 {
				t.Fatal("10 connects to the port a listener left were accepted")
			}
		}
		if _, err := s.Detach(sock); err != ErrClosed {
			t.Errorf("Detach of a failed connect's socket (%v): %v", status, err)
		}
		if err := d.LastError(sock); err == ErrInvalidHandle {
			t.Error("refused Detach released the handle")
		}
		s.ReleaseRef(sock)
	})
}

//go:build linux

package eventcore

import (
	"bytes"
	"errors"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Writes that cannot complete at once: on io_uring they are sends in the
// ring (poller_uring_send.go), elsewhere waits for writability. The tests
// hold them up with small socket buffers and a peer that does not read.

// stalledPair returns a connected pair whose buffers are small, so that a
// large write from client stays pending until server reads.
func stalledPair(t *testing.T, d *Driver) (client, server StreamSocket) {
	t.Helper()
	client, server = streamPair(t, d, MustParseAddr("127.0.0.1:0"))
	for _, o := range []struct {
		sock StreamSocket
		opt  int
		n    int
	}{{client, unix.SO_SNDBUF, 64 << 10}, {server, unix.SO_RCVBUF, 256 << 10}} {
		// Not below the loopback's MSS (64 KiB): a window that small
		// would stall the stream on the persist timer.
		if err := unix.SetsockoptInt(int(d.l.fds.get(o.sock.h, kindStreamSocket).v.fd), unix.SOL_SOCKET, o.opt, o.n); err != nil {
			t.Fatal(err)
		}
	}
	return client, server
}

// stallWrite starts a write of a large buffer of 'a's on client, which
// stays pending, and returns the buffer. On a driver that sends through
// its ring, it checks that a send is in flight once the loop has run.
func stallWrite(t *testing.T, d *Driver, client StreamSocket, cb IOCallback) []byte {
	t.Helper()
	buf := bytes.Repeat([]byte("a"), 4<<20)
	d.Sockets().Write(client, buf, IOModeAll, cb)
	d.Core().ProcessEvents(10 * time.Millisecond)
	d.Core().ProcessEvents(10 * time.Millisecond)
	if d.l.sends != nil && ringSend(d, client) == 0 {
		t.Fatal("no send in flight in the ring")
	}
	return buf
}

// ringSend returns the ring's send serving sock's pending write, 0 if none.
func ringSend(d *Driver, sock StreamSocket) uint64 {
	return d.l.fds.get(sock.h, kindStreamSocket).v.sys.wrOp
}

// drain reads server until the end of its stream, checking that every
// byte is an 'a', and returns the count.
func drain(t *testing.T, d *Driver, server StreamSocket) int {
	t.Helper()
	s := d.Sockets()
	buf := make([]byte, 64<<10)
	total, end := 0, false
	var r ioResult
	s.Read(server, buf, IOModeOnce, r.cb)
	runUntil(t, d, "the end of the stream", func() bool {
		for r.done && !end {
			if i := bytes.IndexFunc(buf[:r.n], func(c rune) bool { return c != 'a' }); i >= 0 {
				t.Fatalf("byte %d of the stream is %q: sent after the write ended", total+i, buf[i])
			}
			total += r.n
			if r.status != IOStatusOK {
				end = true
				break
			}
			r = ioResult{}
			s.Read(server, buf, IOModeOnce, r.cb)
		}
		return end
	})
	if r.status != IOStatusDisconnected {
		t.Fatalf("read: %+v (%v)", r, d.LastError(server))
	}
	return total
}

// A cancelled write runs no callback, and once CancelWrite returns, the
// driver neither sends nor reads the buffer any more: what the peer gets
// is a prefix of the buffer as it was, although the caller overwrites it
// at once.
func TestCancelWriteInFlight(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *Driver) {
		s := d.Sockets()
		client, server := stalledPair(t, d)
		defer s.ReleaseRef(server)
		buf := stallWrite(t, d, client, func(StreamSocket, IOStatus, int) { t.Error("cancelled write called") })
		s.CancelWrite(client)
		if d.l.sends != nil && ringSend(d, client) != 0 {
			t.Error("the cancelled send is still the socket's")
		}
		for i := range buf {
			buf[i] = 'b'
		}
		s.ReleaseRef(client)
		if n := drain(t, d, server); n >= len(buf) {
			t.Errorf("the peer got %d bytes of a cancelled write of %d", n, len(buf))
		}
	})
}

// A write followed at once by a shutdown of writing is sent before the
// end of the stream, whether it completed when it started (readiness
// drivers, with room in the socket) or went to the ring, whose send the
// shutdown settles.
func TestWriteThenShutdown(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *Driver) {
		s := d.Sockets()
		client, server := streamPair(t, d, MustParseAddr("127.0.0.1:0"))
		defer s.ReleaseRef(client)
		defer s.ReleaseRef(server)
		msg := bytes.Repeat([]byte("a"), 1000)
		var w ioResult
		s.Write(client, msg, IOModeAll, w.cb)
		if err := s.Shutdown(client, false, true); err != nil {
			t.Fatal(err)
		}
		if !w.done || w.status != IOStatusOK || w.n != len(msg) {
			t.Fatalf("the write, once writing was shut down: %+v", w)
		}
		if n := drain(t, d, server); n != len(msg) {
			t.Fatalf("the peer got %d bytes of %d", n, len(msg))
		}
	})
}

// A write still pending when writing is shut down reports, as it ends,
// the bytes that the peer gets, a send in the ring included.
func TestShutdownCountsWhatWasSent(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *Driver) {
		s := d.Sockets()
		client, server := stalledPair(t, d)
		defer s.ReleaseRef(client)
		defer s.ReleaseRef(server)
		var w ioResult
		buf := stallWrite(t, d, client, w.cb)
		if err := s.Shutdown(client, false, true); err != nil {
			t.Fatal(err)
		}
		if !w.done || w.status != IOStatusDisconnected || w.n == 0 || w.n >= len(buf) {
			t.Fatalf("the stalled write, once writing was shut down: %+v", w)
		}
		if n := drain(t, d, server); n != w.n {
			t.Fatalf("the write reported %d bytes, the peer got %d", w.n, n)
		}
	})
}

// A send cancelled by closing its socket completes in the kernel, and its
// completion, reaped later, names a freed operation: it must not complete
// the send that took the operation's slot since.
func TestWriteLateCompletion(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *Driver) {
		s := d.Sockets()
		client1, server1 := stalledPair(t, d)
		client2, server2 := stalledPair(t, d)
		defer s.ReleaseRef(server1)
		defer s.ReleaseRef(server2)
		defer s.ReleaseRef(client2)
		stallWrite(t, d, client1, func(StreamSocket, IOStatus, int) { t.Error("write of a released socket called") })
		var old uint64
		if d.l.sends != nil {
			old = ringSend(d, client1)
		}
		s.ReleaseRef(client1)

		var w ioResult
		buf := bytes.Repeat([]byte("a"), 4<<20)
		s.Write(client2, buf, IOModeAll, w.cb)
		if d.l.sends != nil {
			id := ringSend(d, client2)
			oi, _ := handle(old &^ uringDataOp).index()
			ni, _ := handle(id &^ uringDataOp).index()
			if id == 0 || id == old || oi != ni {
				t.Fatalf("the new send %x does not reuse the slot of the old one %x", id, old)
			}
			if _, ok := d.l.p.(*uringPoller).r.posted(old); !ok {
				t.Fatal("the cancelled send's completion is not waiting in the ring")
			}
		}
		d.Core().ProcessEvents(10 * time.Millisecond)
		if w.done {
			t.Fatalf("the write completed before the peer read: %+v", w)
		}
		if n := drain(t, d, server1); n >= len(buf) {
			t.Errorf("the peer got %d bytes of a write of %d whose socket was released", n, len(buf))
		}

		got := 0
		rbuf := make([]byte, 64<<10)
		var r ioResult
		s.Read(server2, rbuf, IOModeOnce, r.cb)
		runUntil(t, d, "the whole write", func() bool {
			for r.done && r.status == IOStatusOK && got < len(buf) {
				got += r.n
				if got < len(buf) {
					r = ioResult{}
					s.Read(server2, rbuf, IOModeOnce, r.cb)
				}
			}
			return w.done && got == len(buf) || r.done && r.status != IOStatusOK
		})
		if w.status != IOStatusOK || w.n != len(buf) || got != len(buf) {
			t.Fatalf("write %+v, read %d of %d (last read %+v)", w, got, len(buf), r)
		}
	})
}

// Detach refuses a socket whose write is pending, a send in the ring
// included, and the write goes on; once it is cancelled, Detach succeeds.
func TestDetachRefusesWriteInFlight(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *Driver) {
		s := d.Sockets()
		client, server := stalledPair(t, d)
		defer s.ReleaseRef(server)
		stallWrite(t, d, client, func(StreamSocket, IOStatus, int) { t.Error("cancelled write called") })
		if _, err := s.Detach(client); !errors.Is(err, ErrBusy) {
			t.Fatalf("Detach with a write in flight: %v", err)
		}
		if d.l.sends != nil && ringSend(d, client) == 0 {
			t.Fatal("the refused Detach dropped the send")
		}
		s.CancelWrite(client)
		fd, err := s.Detach(client)
		if err != nil {
			t.Fatalf("Detach after the cancel: %v", err)
		}
		rawClose(fd)
		drain(t, d, server)
	})
}

// A handover (see TestUringHandover) moves the sends to the new ring. One
// still queued, never submitted, is submitted there: here the first
// handover, in the goroutine, finds the write's send queued. One the
// kernel had taken never completes, and what it sent is unknown: the
// write fails, and no more of its buffer goes out after its callback ran.
func TestUringHandoverSend(t *testing.T) {
	if !slices.Contains(Drivers(), "iouring") {
		t.Skip("io_uring is not available here")
	}
	d := newTestDriver(t, "iouring")
	s := d.Sockets()
	client, server := stalledPair(t, d)
	defer s.ReleaseRef(server)
	var w ioResult
	buf := bytes.Repeat([]byte("a"), 4<<20)
	done := make(chan uint64)
	go func() {
		d.Core().ProcessEvents(0) // takes the loop over, on another thread
		s.Write(client, buf, IOModeAll, w.cb)
		// Until the send in flight is the one the kernel took last: each
		// that completes in part queues the next.
		p := d.l.p.(*uringPoller)
		for deadline := time.Now().Add(hangLimit); time.Now().Before(deadline); {
			d.Core().ProcessEvents(10 * time.Millisecond) // the first moves to a new ring
			if p.r.unsubmitted == 0 && ringSend(d, client) != 0 {
				break
			}
		}
		done <- ringSend(d, client)
	}()
	if <-done == 0 || d.l.p.(*uringPoller).r.unsubmitted != 0 {
		t.Fatal("no send in flight in the ring")
	}
	runUntil(t, d, "the write", func() bool { return w.done })
	if w.status != IOStatusError || !errors.Is(d.LastError(client), unix.ECANCELED) {
		t.Fatalf("write %+v (%v), want an error: ECANCELED", w, d.LastError(client))
	}
	for i := range buf {
		buf[i] = 'b'
	}
	s.ReleaseRef(client)
	drain(t, d, server)
}

// A write that waits for room (a send through the ring on io_uring)
// allocates nothing in steady state.
func TestAllocsStalledWrite(t *testing.T) {
	skipUnderRace(t)
	forEachDriver(t, func(t *testing.T, d *Driver) {
		s := d.Sockets()
		c, srv := stalledPair(t, d)
		msg, buf := make([]byte, 2<<20), make([]byte, 2<<20)
		var w, r ioResult
		wcb, rcb := w.cb, r.cb
		cycle := func() {
			w, r = ioResult{}, ioResult{}
			s.Write(c, msg, IOModeAll, wcb)
			d.Core().ProcessEvents(0)
			s.Read(srv, buf, IOModeAll, rcb)
			for !r.done || !w.done {
				d.Core().ProcessEvents(hangLimit)
			}
		}
		cycle()
		if w.status != IOStatusOK || r.status != IOStatusOK {
			t.Fatalf("write %+v, read %+v", w, r)
		}
		if n := testing.AllocsPerRun(50, cycle); n != 0 {
			t.Errorf("stalled write: %v allocations", n)
		}
		s.ReleaseRef(c)
		s.ReleaseRef(srv)
	})
}

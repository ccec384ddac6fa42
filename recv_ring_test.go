//go:build linux

package eventcore

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Loaned reads through the io_uring driver's receives (poller_uring_recv.go):
// the edges the ring has of its own. loan_test.go runs the loaned-read
// conformance tests on every driver, this one included.

// ringDriver makes an iouring driver, with a buffer ring of bufs buffers
// (0: the default).
func ringDriver(t *testing.T, bufs int, opts ...Option) *Driver {
	t.Helper()
	if !slices.Contains(Drivers(), "iouring") {
		t.Skip("io_uring is not available here")
	}
	if bufs > 0 {
		old := uringRecvBufCount
		uringRecvBufCount = bufs
		t.Cleanup(func() { uringRecvBufCount = old })
	}
	return newTestDriver(t, "iouring", opts...)
}

// ringRx returns the ring's receive of sock, skipping the test where the
// kernel has no buffer ring; call it after a loaned read started.
func ringRx(t *testing.T, d *Driver, sock StreamSocket) *uringRx {
	t.Helper()
	e := d.l.fds.get(sock.h, kindStreamSocket)
	if e == nil {
		t.Fatal("no such socket")
	}
	if e.v.flags&fdRingRecv == 0 {
		if uringNoRecvRing.Load() {
			t.Skip("the kernel has no incremental buffer ring")
		}
		t.Fatal("a loaned read did not start the ring's receive")
	}
	return d.l.p.(*uringPoller).rx.socks.at(int(e.v.fd))
}

// keepWaiting gives the loop an operation that stays pending, so that it
// waits in the ring (and the ring receives) while the sockets under test
// have none.
func keepWaiting(t *testing.T, d *Driver) {
	t.Helper()
	fds := rawStreamPair(t)
	sock, err := d.Sockets().AdoptStream(fds[0])
	if err != nil {
		t.Fatal(err)
	}
	d.Sockets().WaitForData(sock, func(StreamSocket, IOStatus, int) {})
	t.Cleanup(func() {
		d.Sockets().ReleaseRef(sock)
		rawClose(fds[1])
	})
}

// loanOne makes one loaned read of sock and returns what it got.
func loanOne(t *testing.T, d *Driver, sock StreamSocket) string {
	t.Helper()
	var r loanResult
	d.Sockets().ReadLoaned(sock, r.cb)
	runUntil(t, d, "a loaned read", func() bool { return r.calls > 0 })
	if r.status != IOStatusOK {
		t.Fatalf("loaned read: %v", r.status)
	}
	return string(r.data)
}

// Data that comes while no read waits (the read was cancelled) is kept,
// in the ring's pieces, and the receive stops once the socket holds more
// than a buffer's worth; the next read, of any kind, gets it, and the
// receive is armed again.
func TestRingRecvCancelKeepsData(t *testing.T) {
	d := ringDriver(t, 0, WithLoanSize(512))
	keepWaiting(t, d)
	s := d.Sockets()
	c, srv := streamPair(t, d, MustParseAddr("127.0.0.1:0"))
	defer s.ReleaseRef(c)
	defer s.ReleaseRef(srv)
	sendAll(t, d, c, []byte("one"))
	if got := loanOne(t, d, srv); got != "one" {
		t.Fatalf("first loan: %q", got)
	}
	var cancelled loanResult
	s.ReadLoaned(srv, cancelled.cb)
	s.CancelRead(srv)
	two := make([]byte, 4096)
	for i := range two {
		two[i] = byte(i % 251)
	}
	sendAll(t, d, c, two)
	runUntil(t, d, "the ring receives with no read waiting, and stops", func() bool {
		rx := ringRx(t, d, srv)
		return rx.held > 512 && !rx.armed
	})
	if cancelled.calls != 0 {
		t.Fatal("a cancelled loaned read was called back")
	}
	buf := make([]byte, len(two))
	var r ioResult
	s.Read(srv, buf, IOModeAll, r.cb)
	runUntil(t, d, "a read after the cancel", func() bool { return r.done })
	if r.status != IOStatusOK || !bytes.Equal(buf, two) {
		t.Fatalf("read after the cancel: %v, %d bytes, not those sent", r.status, r.n)
	}
	sendAll(t, d, c, []byte("three"))
	if got := loanOne(t, d, srv); got != "three" {
		t.Fatalf("loan after the read: %q", got)
	}
}

// A program that mixes every kind of read on one socket gets the stream
// whole and in order: loans, reads of any size (which may take part of a
// piece the ring received), waits for data, IOModeAll reads.
func TestRingRecvMixedReads(t *testing.T) {
	d := ringDriver(t, 0, WithLoanSize(512))
	s := d.Sockets()
	c, srv := streamPair(t, d, MustParseAddr("127.0.0.1:0"))
	defer s.ReleaseRef(c)
	defer s.ReleaseRef(srv)
	rng := rand.New(rand.NewPCG(1, 2))
	msg := make([]byte, 1<<20)
	for i := range msg {
		msg[i] = byte(rng.Uint32())
	}
	var got []byte
	var bad error
	var next func()
	fail := func(what string, st IOStatus) {
		if st != IOStatusOK && bad == nil {
			bad = errors.New(what + ": " + st.String())
		}
	}
	next = func() {
		if len(got) >= len(msg) || bad != nil {
			return
		}
		switch rng.IntN(4) {
		case 0:
			s.ReadLoaned(srv, func(_ StreamSocket, st IOStatus, data []byte) {
				fail("loaned read", st)
				got = append(got, data...)
				next()
			})
		case 1:
			buf := make([]byte, 1+rng.IntN(700))
			s.Read(srv, buf, IOModeOnce, func(_ StreamSocket, st IOStatus, n int) {
				fail("read", st)
				got = append(got, buf[:n]...)
				next()
			})
		case 2:
			s.WaitForData(srv, func(_ StreamSocket, st IOStatus, _ int) {
				fail("wait for data", st)
				next()
			})
		case 3:
			buf := make([]byte, min(1+rng.IntN(3000), len(msg)-len(got)))
			s.Read(srv, buf, IOModeAll, func(_ StreamSocket, st IOStatus, n int) {
				fail("read all", st)
				got = append(got, buf[:n]...)
				next()
			})
		}
	}
	s.ReadLoaned(srv, func(_ StreamSocket, st IOStatus, data []byte) {
		fail("first loaned read", st)
		got = append(got, data...)
		next()
	})
	ringRx(t, d, srv)
	var w ioResult
	s.Write(c, msg, IOModeAll, w.cb)
	runUntil(t, d, "a megabyte through mixed reads", func() bool { return bad != nil || len(got) >= len(msg) && w.done })
	if bad != nil {
		t.Fatal(bad)
	}
	if !bytes.Equal(got, msg) {
		t.Fatal("the bytes read differ from those sent")
	}
}

// streamLoaned has n bytes sent from c and read by loans on srv, and
// reports when they have all arrived in order.
func streamLoaned(t *testing.T, d *Driver, c, srv StreamSocket, n int) func() bool {
	s := d.Sockets()
	msg := make([]byte, n)
	for i := range msg {
		msg[i] = byte(i * 7)
	}
	var got []byte
	var w ioResult
	var cb LoanCallback
	cb = func(sock StreamSocket, st IOStatus, data []byte) {
		if st != IOStatusOK {
			t.Errorf("loaned read: %v", st)
			return
		}
		got = append(got, data...)
		if len(got) < len(msg) {
			s.ReadLoaned(sock, cb)
		}
	}
	s.ReadLoaned(srv, cb)
	s.Write(c, msg, IOModeAll, w.cb)
	return func() bool {
		if len(got) < len(msg) || !w.done {
			return false
		}
		if !bytes.Equal(got, msg) {
			t.Fatal("the bytes read by loans differ from those sent")
		}
		return true
	}
}

// A ring of two small buffers shared by three streams: receives keep
// meeting ENOBUFS, also those of sockets that hold no piece (the others
// took the buffers), and are armed again as buffers come back.
func TestRingRecvOutOfBuffers(t *testing.T) {
	d := ringDriver(t, 2, WithLoanSize(512))
	s := d.Sockets()
	var dones []func() bool
	for range 3 {
		c, srv := streamPair(t, d, MustParseAddr("127.0.0.1:0"))
		defer s.ReleaseRef(c)
		defer s.ReleaseRef(srv)
		dones = append(dones, streamLoaned(t, d, c, srv, 256<<10))
		ringRx(t, d, srv)
	}
	runUntil(t, d, "three streams through two buffers", func() bool {
		for _, done := range dones {
			if !done() {
				return false
			}
		}
		return true
	})
}

// A connection whose program stopped reading does not starve the others:
// what it received before its receive stopped is copied out of the ring
// once the ring runs dry, and holds no ring buffer.
func TestRingRecvSlowReader(t *testing.T) {
	d := ringDriver(t, 4, WithLoanSize(512))
	keepWaiting(t, d)
	s := d.Sockets()
	slowC, slow := streamPair(t, d, MustParseAddr("127.0.0.1:0"))
	defer s.ReleaseRef(slowC)
	defer s.ReleaseRef(slow)
	sendAll(t, d, slowC, []byte("hello"))
	if got := loanOne(t, d, slow); got != "hello" {
		t.Fatalf("slow reader's first loan: %q", got)
	}
	sendAll(t, d, slowC, bytes.Repeat([]byte("s"), 64<<10))
	var dones []func() bool
	for range 3 {
		c, srv := streamPair(t, d, MustParseAddr("127.0.0.1:0"))
		defer s.ReleaseRef(c)
		defer s.ReleaseRef(srv)
		dones = append(dones, streamLoaned(t, d, c, srv, 256<<10))
	}
	runUntil(t, d, "the fast readers' streams beside a slow reader", func() bool {
		for _, done := range dones {
			if !done() {
				return false
			}
		}
		return true
	})
	rx := ringRx(t, d, slow)
	if rx.armed || rx.head == 0 {
		t.Fatalf("the slow reader's receive: armed %v, pieces %d; want stopped, holding what came", rx.armed, rx.head)
	}
	b := d.l.p.(*uringPoller).rx
	for s := rx.head; s != 0; s = b.segs[s-1].next {
		if b.segs[s-1].bid != uringSpilled {
			t.Fatal("the slow reader still holds a ring buffer")
		}
	}
	// What it holds comes first, then the rest of the stream.
	got := 0
	for got < 64<<10 {
		data := loanOne(t, d, slow)
		if data != string(bytes.Repeat([]byte("s"), len(data))) {
			t.Fatalf("the slow reader read %q", data)
		}
		got += len(data)
	}
	if got != 64<<10 {
		t.Fatalf("the slow reader read %d bytes, want %d", got, 64<<10)
	}
}

// Shutting down reading, closing, and Detach cancel an armed receive and
// wait for it: the kernel holds the socket no longer (a closed socket's
// peer sees the end without the loop running), and Detach refuses while
// the loop holds received data.
func TestRingRecvShutdownAndClose(t *testing.T) {
	d := ringDriver(t, 0)
	keepWaiting(t, d)
	s := d.Sockets()
	fds := rawStreamPair(t)
	defer rawClose(fds[1])
	sock, err := s.AdoptStream(fds[0])
	if err != nil {
		t.Fatal(err)
	}
	var r loanResult
	s.ReadLoaned(sock, r.cb)
	rx := ringRx(t, d, sock)
	d.Core().ProcessEvents(0)
	if !rx.armed {
		t.Fatal("no receive armed")
	}
	if err := s.Shutdown(sock, true, false); err != nil {
		t.Fatal(err)
	}
	if r.calls != 1 || r.status != IOStatusDisconnected {
		t.Fatalf("loaned read at shutdown: %d calls, %v", r.calls, r.status)
	}
	if ops := d.l.p.(*uringPoller).ops.live; ops != 0 {
		t.Fatalf("%d operations in flight after the shutdown", ops)
	}

	// Detach with data held, then after reading it.
	fds2 := rawStreamPair(t)
	defer rawClose(fds2[1])
	sock2, err := s.AdoptStream(fds2[0])
	if err != nil {
		t.Fatal(err)
	}
	rawWrite(fds2[1], []byte("a"))
	if got := loanOne(t, d, sock2); got != "a" {
		t.Fatalf("loan: %q", got)
	}
	rawWrite(fds2[1], []byte("b"))
	runUntil(t, d, "data received with no read waiting", func() bool { return ringRx(t, d, sock2).head != 0 })
	if _, err := s.Detach(sock2); !errors.Is(err, ErrBusy) {
		t.Fatalf("Detach with received data held: %v, want ErrBusy", err)
	}
	if got := loanOne(t, d, sock2); got != "b" {
		t.Fatalf("loan after the refused Detach: %q", got)
	}
	fd, err := s.Detach(sock2)
	if err != nil {
		t.Fatal(err)
	}
	rawClose(fd)

	// Close with a receive armed: the peer sees the end at once.
	s.ReleaseRef(sock)
	fds3 := rawStreamPair(t)
	sock3, err := s.AdoptStream(fds3[0])
	if err != nil {
		t.Fatal(err)
	}
	var r3 loanResult
	s.ReadLoaned(sock3, r3.cb)
	d.Core().ProcessEvents(0)
	if !ringRx(t, d, sock3).armed {
		t.Fatal("no receive armed")
	}
	s.ReleaseRef(sock3)
	for deadline := time.Now().Add(hangLimit); !endSeen(t, fds3[1]); {
		if time.Now().After(deadline) {
			t.Fatal("a socket with a receive armed stayed open after its release")
		}
	}
	rawClose(fds3[1])
}

// endSeen waits a little for the end of the stream on fd, which no one
// writes to, and reports whether it came.
func endSeen(t *testing.T, fd uintptr) bool {
	pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	if n, _ := unix.Poll(pfd, 10); n <= 0 {
		return false // nothing yet, or interrupted
	}
	n, err := unix.Read(int(fd), make([]byte, 1))
	if err != nil || n != 0 {
		t.Fatalf("read from the peer of a released socket: %d, %v", n, err)
	}
	return true
}

// A loop taken over by another goroutine moves to a new ring: what the
// left ring received is read first, then what comes after, through the
// new ring's buffers.
func TestRingRecvHandover(t *testing.T) {
	d := ringDriver(t, 0)
	keepWaiting(t, d)
	s := d.Sockets()
	fds := rawStreamPair(t)
	defer rawClose(fds[1])
	sock, err := s.AdoptStream(fds[0])
	if err != nil {
		t.Fatal(err)
	}
	defer s.ReleaseRef(sock)
	done := make(chan error)
	go func() {
		d.Core().ProcessEvents(0)
		rawWrite(fds[1], []byte("one"))
		var r loanResult
		s.ReadLoaned(sock, r.cb)
		for deadline := time.Now().Add(hangLimit); r.calls == 0; d.Core().ProcessEvents(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				done <- errors.New("no first loan")
				return
			}
		}
		// Received with no read waiting, kept across the handover.
		rawWrite(fds[1], []byte("two"))
		for deadline := time.Now().Add(hangLimit); d.l.p.(*uringPoller).rx.socks.at(int(fds[0])).head == 0; d.Core().ProcessEvents(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				done <- errors.New("nothing received with no read waiting")
				return
			}
		}
		if string(r.data) != "one" {
			done <- errors.New("first loan: " + string(r.data))
			return
		}
		done <- nil
	}()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	d.Core().ProcessEvents(0)
	if got := loanOne(t, d, sock); got != "two" {
		t.Fatalf("loan after the handover: %q", got)
	}
	rawWrite(fds[1], []byte("three"))
	if got := loanOne(t, d, sock); got != "three" {
		t.Fatalf("second loan after the handover: %q", got)
	}
	if !ringRx(t, d, sock).armed {
		t.Fatal("no receive armed on the new ring")
	}
}

package eventcore

import (
	"bytes"
	"math/rand/v2"
	"testing"
	"time"
)

// Loaned reads (loan.go, Sockets.ReadLoaned): every driver.

// loanResult records one loaned read's callback, with a copy of its data.
type loanResult struct {
	calls  int
	status IOStatus
	data   []byte
}

func (r *loanResult) cb(_ StreamSocket, st IOStatus, data []byte) {
	r.calls++
	r.status = st
	r.data = append(r.data[:0], data...)
}

// sendAll writes msg, small enough for the socket's buffer, from sock at
// once: it runs no callback of the loop's.
func sendAll(t *testing.T, d *Driver, sock StreamSocket, msg []byte) {
	t.Helper()
	var w ioResult
	d.Sockets().Write(sock, msg, IOModeImmediate, w.cb)
	if !w.done || w.status != IOStatusOK || w.n != len(msg) {
		t.Fatalf("write: %v, %d of %d bytes", w.status, w.n, len(msg))
	}
}

func TestLoanedReadDelivers(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *Driver) {
		s := d.Sockets()
		c, srv := streamPair(t, d, MustParseAddr("127.0.0.1:0"))
		defer s.ReleaseRef(c)
		defer s.ReleaseRef(srv)
		var r loanResult
		s.ReadLoaned(srv, r.cb)
		if r.calls != 0 || d.Core().WaiterCount() != 1 {
			t.Fatalf("loaned read with nothing sent: %d calls, %d waiters", r.calls, d.Core().WaiterCount())
		}
		if e := d.l.fds.get(srv.h, kindStreamSocket); e.v.rd.buf != nil {
			t.Fatal("a waiting loaned read holds a buffer")
		}
		sendAll(t, d, c, []byte("hello"))
		runUntil(t, d, "loaned read", func() bool { return r.calls > 0 })
		if r.calls != 1 || r.status != IOStatusOK || string(r.data) != "hello" {
			t.Fatalf("loaned read: %d calls, %v, %q", r.calls, r.status, r.data)
		}
		if d.Core().WaiterCount() != 0 {
			t.Fatalf("%d waiters after the loaned read", d.Core().WaiterCount())
		}
		if s.TakeLoan() != nil {
			t.Fatal("TakeLoan outside a loan callback gave a buffer")
		}
	})
}

// TestLoanedReadStream: a megabyte in random pieces, read by loans that
// re-arm from their callbacks, arrives whole and in order, in loans no
// larger than the loan size.
func TestLoanedReadStream(t *testing.T) {
	const size = 600
	forEachDriver(t, func(t *testing.T, d *Driver) {
		s := d.Sockets()
		c, srv := streamPair(t, d, MustParseAddr("127.0.0.1:0"))
		defer s.ReleaseRef(c)
		defer s.ReleaseRef(srv)
		msg := make([]byte, 1<<20)
		for i := range msg {
			msg[i] = byte(rand.Uint32())
		}
		var got []byte
		var bad IOStatus
		tooBig := 0
		var cb LoanCallback
		cb = func(sock StreamSocket, st IOStatus, data []byte) {
			if st != IOStatusOK {
				bad = st
				return
			}
			if len(data) == 0 || len(data) > size {
				tooBig = len(data)
			}
			got = append(got, data...)
			if len(got) < len(msg) {
				s.ReadLoaned(sock, cb)
			}
		}
		s.ReadLoaned(srv, cb)
		var w ioResult
		s.Write(c, msg, IOModeAll, w.cb)
		runUntil(t, d, "a megabyte through loaned reads", func() bool {
			return bad != 0 || tooBig != 0 || len(got) >= len(msg) && w.done
		})
		if bad != 0 || tooBig != 0 {
			t.Fatalf("loaned read failed: %v, a loan of %d bytes", bad, tooBig)
		}
		if !bytes.Equal(got, msg) {
			t.Fatal("the bytes read by loans differ from those sent")
		}
	}, WithLoanSize(size))
}

func TestLoanedReadBusyAndCancel(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *Driver) {
		s := d.Sockets()
		c, srv := streamPair(t, d, MustParseAddr("127.0.0.1:0"))
		defer s.ReleaseRef(c)
		defer s.ReleaseRef(srv)
		var first, second loanResult
		s.ReadLoaned(srv, first.cb)
		s.ReadLoaned(srv, second.cb)
		var rd ioResult
		s.Read(srv, make([]byte, 8), IOModeOnce, rd.cb)
		if second.calls != 1 || second.status != IOStatusBusy || !rd.done || rd.status != IOStatusBusy {
			t.Fatalf("second loaned read %d calls %v, Read %v %v; want both busy", second.calls, second.status, rd.done, rd.status)
		}
		s.CancelRead(srv)
		if d.Core().WaiterCount() != 0 {
			t.Fatalf("%d waiters after CancelRead", d.Core().WaiterCount())
		}
		sendAll(t, d, c, []byte("after the cancel"))
		runFor(d, 20*time.Millisecond)
		if first.calls != 0 {
			t.Fatal("a cancelled loaned read's callback ran")
		}
		// Nothing was taken from the socket: a new read gets it all.
		var again loanResult
		s.ReadLoaned(srv, again.cb)
		runUntil(t, d, "loaned read after a cancel", func() bool { return again.calls > 0 })
		if again.status != IOStatusOK || string(again.data) != "after the cancel" {
			t.Fatalf("after a cancel: %v %q", again.status, again.data)
		}
		// And a pending Read makes a loaned read busy.
		s.Read(srv, make([]byte, 8), IOModeOnce, rd.cb)
		var third loanResult
		s.ReadLoaned(srv, third.cb)
		if third.calls != 1 || third.status != IOStatusBusy || third.data != nil {
			t.Fatalf("loaned read beside a Read: %d calls, %v, %q", third.calls, third.status, third.data)
		}
		s.CancelRead(srv)
	})
}

func TestLoanedReadEnd(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *Driver) {
		s := d.Sockets()
		c, srv := streamPair(t, d, MustParseAddr("127.0.0.1:0"))
		defer s.ReleaseRef(srv)
		var r loanResult
		s.ReadLoaned(srv, r.cb)
		s.ReleaseRef(c)
		runUntil(t, d, "end of stream", func() bool { return r.calls > 0 })
		if r.status != IOStatusDisconnected || r.data != nil {
			t.Fatalf("peer gone: %v %q", r.status, r.data)
		}
		if st := s.ConnectionState(srv); st != ConnectionPassiveClose {
			t.Fatalf("state after the peer's end: %v", st)
		}
		// Shut down reading: a pending loaned read completes before
		// Shutdown returns, and a later one at once.
		c2, srv2 := streamPair(t, d, MustParseAddr("127.0.0.1:0"))
		defer s.ReleaseRef(c2)
		defer s.ReleaseRef(srv2)
		var p, q loanResult
		s.ReadLoaned(srv2, p.cb)
		if err := s.Shutdown(srv2, true, false); err != nil {
			t.Fatal(err)
		}
		s.ReadLoaned(srv2, q.cb)
		if p.status != IOStatusDisconnected || q.status != IOStatusDisconnected || p.calls != 1 || q.calls != 1 {
			t.Fatalf("after Shutdown(read): pending %d %v, later %d %v", p.calls, p.status, q.calls, q.status)
		}
		var st loanResult
		s.ReadLoaned(StreamSocket{}, st.cb)
		if st.status != IOStatusInvalidHandle {
			t.Fatalf("loaned read on the zero socket: %v", st.status)
		}
	})
}

// TestLoanedReadNested: a loan made while another is lent gets a buffer of
// its own, and a buffer taken over by TakeLoan is the caller's for good;
// in the checked mode, a buffer returned to the loop is scribbled on.
func TestLoanedReadNested(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *Driver) {
		s := d.Sockets()
		c1, srv1 := streamPair(t, d, MustParseAddr("127.0.0.1:0"))
		c2, srv2 := streamPair(t, d, MustParseAddr("127.0.0.1:0"))
		defer func() {
			for _, h := range []StreamSocket{c1, srv1, c2, srv2} {
				s.ReleaseRef(h)
			}
		}()
		sendAll(t, d, c2, []byte("inner"))
		var inner loanResult
		var outerData, innerData, taken []byte
		s.ReadLoaned(srv1, func(_ StreamSocket, st IOStatus, data []byte) {
			outerData = data
			// srv2's data is waiting: its loan completes at once, inside.
			s.ReadLoaned(srv2, func(sock StreamSocket, st IOStatus, data []byte) {
				innerData = data
				inner.cb(sock, st, data)
			})
			runUntil(t, d, "inner loan", func() bool { return inner.calls > 0 })
			if string(outerData) != "outer" {
				t.Errorf("the outer loan's data became %q during the inner one", outerData)
			}
			taken = s.TakeLoan()
		})
		sendAll(t, d, c1, []byte("outer"))
		runUntil(t, d, "outer loan", func() bool { return taken != nil })
		if string(inner.data) != "inner" {
			t.Fatalf("inner loan: %v %q", inner.status, inner.data)
		}
		if &taken[0] != &outerData[0] || string(outerData) != "outer" {
			t.Fatalf("TakeLoan gave another buffer, or the taken data changed: %q", outerData)
		}
		if checkedMode && !bytes.Equal(innerData, bytes.Repeat([]byte{0xA5}, len(innerData))) {
			t.Fatalf("checked mode: a returned loan was not scribbled on: %q", innerData)
		}
		// The next loan does not reuse the taken buffer.
		var next []byte
		s.ReadLoaned(srv1, func(_ StreamSocket, _ IOStatus, data []byte) {
			taken[0] = 'X' // would show in data if the buffer were the same
			next = append([]byte(nil), data...)
		})
		sendAll(t, d, c1, []byte("next"))
		runUntil(t, d, "loan after a take", func() bool { return next != nil })
		if string(next) != "next" {
			t.Fatalf("a loan after TakeLoan read %q", next)
		}
	})
}

func TestLoanedReadPanicRecovered(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *Driver) {
		s := d.Sockets()
		c, srv := streamPair(t, d, MustParseAddr("127.0.0.1:0"))
		defer s.ReleaseRef(c)
		defer s.ReleaseRef(srv)
		s.ReadLoaned(srv, func(StreamSocket, IOStatus, []byte) { panic(boom{}) })
		sendAll(t, d, c, []byte("a"))
		if n := runRecovering(t, d, "panicking loan", func() bool { return d.Core().WaiterCount() == 0 }); n != 1 {
			t.Fatalf("%d panics recovered, want 1", n)
		}
		if s.TakeLoan() != nil {
			t.Fatal("a panicking loan callback left its buffer lent")
		}
		var r loanResult
		s.ReadLoaned(srv, r.cb)
		sendAll(t, d, c, []byte("b"))
		runUntil(t, d, "loan after a panic", func() bool { return r.calls > 0 })
		if string(r.data) != "b" {
			t.Fatalf("loan after a panic: %v %q", r.status, r.data)
		}
	})
}

func TestAllocsLoanedRead(t *testing.T) {
	skipUnderRace(t)
	forEachDriver(t, func(t *testing.T, d *Driver) {
		s := d.Sockets()
		c, srv := streamPair(t, d, MustParseAddr("127.0.0.1:0"))
		msg := make([]byte, 64)
		var w ioResult
		var r loanResult
		r.data = make([]byte, 0, 64)
		wcb, rcb := w.cb, r.cb
		roundTrip := func() {
			w, r.calls = ioResult{}, 0
			s.ReadLoaned(srv, rcb)
			s.Write(c, msg, IOModeAll, wcb)
			for r.calls == 0 || !w.done {
				d.Core().ProcessEvents(hangLimit)
			}
		}
		noAllocs(t, "loaned read", roundTrip, func() {
			s.ReleaseRef(c)
			s.ReleaseRef(srv)
		})
	})
}

//go:build unix

package eventcore

import (
	"slices"
	"syscall"
	"testing"
	"time"
)

// What the readiness drivers' read bookkeeping (fdio_posix.go) must not get
// wrong: a short read that leaves something behind (see
// statePoller.reportsUrgent), played by plain POSIX sockets as peers.

// A peer that sends TCP urgent data: a read stops short at the urgent mark
// with data still queued behind it, so that short read must not be taken
// for an empty socket (the loop would then wait for a readiness event that
// never comes: the data is already there).
func TestPeerSendsUrgentData(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *Driver) { urgentRound(t, d, false) })
}

// The same with loaned reads, which io_uring serves with a multishot
// receive: the receive that stops at the mark must not leave the rest
// behind it unreported.
func TestPeerSendsUrgentDataLoaned(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *Driver) { urgentRound(t, d, true) })
}

// urgentRound has a plain peer send "abc", an urgent "!" and "de" while a
// read waits (loaned, or into a buffer of the test's), and checks that
// the reads deliver "abcde".
func urgentRound(t *testing.T, d *Driver, loaned bool) {
	t.Helper()
	s := d.Sockets()
	srv, fd := plainPeer(t, d)
	defer syscall.Close(fd)
	defer s.ReleaseRef(srv)
	buf := make([]byte, 100)
	var got []byte
	var r ioResult
	var read func(StreamSocket, IOStatus, int)
	var readLoaned func(StreamSocket, IOStatus, []byte)
	next := func() {
		if loaned {
			s.ReadLoaned(srv, readLoaned)
		} else {
			s.Read(srv, buf, IOModeOnce, read)
		}
	}
	read = func(c StreamSocket, st IOStatus, n int) {
		r.cb(c, st, n)
		got = append(got, buf[:n]...)
		if st == IOStatusOK && len(got) < 5 {
			next()
		}
	}
	readLoaned = func(c StreamSocket, st IOStatus, data []byte) {
		copy(buf, data)
		read(c, st, len(data))
	}
	// Pending before anything arrives, so that the whole burst comes
	// in one readiness event and the first read meets the mark.
	next()
	runFor(d, 5*time.Millisecond)
	for _, m := range []struct {
		b     string
		flags int
	}{{"abc", 0}, {"!", syscall.MSG_OOB}, {"de", 0}} {
		if err := syscall.Sendto(fd, []byte(m.b), m.flags, nil); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(10 * time.Millisecond) // let loopback deliver it all
	runUntil(t, d, "the data after the urgent mark", func() bool { return len(got) >= 5 || (r.done && r.status != IOStatusOK) })
	if string(got) != "abcde" {
		t.Fatalf("read %q (last %+v), want %q: the urgent byte is out of band", got, r, "abcde")
	}
}

// A peer that sends data and ends the connection at once: the data and the
// end come in one readiness event, and the read that takes the data stops
// short at the end. That short read must not be taken for an empty socket:
// the next read must find the end (or the reset) without another event.
func TestPeerEndsRightAfterData(t *testing.T) {
	ends := []struct {
		name string
		end  func(t *testing.T, fd int)
		want []IOStatus
	}{
		{"shutdown", func(_ *testing.T, fd int) { syscall.Shutdown(fd, syscall.SHUT_WR) }, []IOStatus{IOStatusDisconnected}},
		{"close", func(_ *testing.T, fd int) { syscall.Close(fd) }, []IOStatus{IOStatusDisconnected}},
		{"reset", func(t *testing.T, fd int) {
			if err := resetOnClose(uintptr(fd)); err != nil {
				t.Fatal(err)
			}
			syscall.Close(fd)
		}, []IOStatus{IOStatusDisconnected, IOStatusError}},
	}
	for _, end := range ends {
		t.Run(end.name, func(t *testing.T) {
			forEachDriver(t, func(t *testing.T, d *Driver) {
				s := d.Sockets()
				srv, fd := plainPeer(t, d)
				buf := make([]byte, 100)
				var first, second ioResult
				s.Read(srv, buf, IOModeOnce, first.cb) // pending before anything arrives
				runFor(d, 5*time.Millisecond)
				if _, err := syscall.Write(fd, []byte("abc")); err != nil {
					t.Fatal(err)
				}
				end.end(t, fd)
				if end.name == "shutdown" {
					defer syscall.Close(fd)
				}
				time.Sleep(10 * time.Millisecond) // let loopback deliver both
				runUntil(t, d, "the data", func() bool { return first.done })
				if first.status != IOStatusOK || string(buf[:first.n]) != "abc" {
					t.Fatalf("first read %+v %q, want the data", first, buf[:first.n])
				}
				s.Read(srv, buf, IOModeOnce, second.cb)
				runUntil(t, d, "the end after the data", func() bool { return second.done })
				if !slices.Contains(end.want, second.status) {
					t.Fatalf("second read %+v, want one of %v", second, end.want)
				}
				s.ReleaseRef(srv)
			})
		})
	}
}

// Shutting down reading after a read found the socket empty: the next read
// finds the end at once.
func TestReadAfterReadShutdown(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *Driver) {
		s := d.Sockets()
		srv, fd := plainPeer(t, d)
		defer syscall.Close(fd)
		if _, err := syscall.Write(fd, []byte("abc")); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond) // let loopback deliver it
		buf := make([]byte, 100)
		var first, second ioResult
		s.Read(srv, buf, IOModeOnce, first.cb)
		runUntil(t, d, "the data", func() bool { return first.done })
		if first.status != IOStatusOK || string(buf[:first.n]) != "abc" {
			t.Fatalf("first read %+v %q, want the data", first, buf[:first.n])
		}
		if err := s.Shutdown(srv, true, false); err != nil {
			t.Fatal(err)
		}
		s.Read(srv, buf, IOModeOnce, second.cb)
		runUntil(t, d, "the end after shutting down reading", func() bool { return second.done })
		if second.status != IOStatusDisconnected {
			t.Fatalf("read after shutting down reading: %+v", second)
		}
		s.ReleaseRef(srv)
	})
}

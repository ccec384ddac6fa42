//go:build unix

package eventcore

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"net"
	"slices"
	"syscall"
	"testing"
	"time"
)

// Hostile peers: resets, stalls, drips and floods. The loop must report
// each as a status, lose no data that did arrive, and keep serving.

// resetFD makes closing fd send a reset instead of an orderly end.
func resetFD(t *testing.T, fd int) {
	t.Helper()
	if err := syscall.SetsockoptLinger(fd, syscall.SOL_SOCKET, syscall.SO_LINGER, &syscall.Linger{Onoff: 1, Linger: 0}); err != nil {
		t.Fatal(err)
	}
}

func TestPeerResetDuringLargeWrite(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *Driver) {
		s := d.Sockets()
		c, srv := streamPair(t, d, MustParseAddr("127.0.0.1:0"))
		var w ioResult
		s.Write(c, make([]byte, 64<<20), IOModeAll, w.cb)
		// The peer reads a little, then resets the connection.
		var r ioResult
		s.Read(srv, make([]byte, 1<<16), IOModeAll, r.cb)
		runUntil(t, d, "some data", func() bool { return r.done })
		resetFD(t, int(d.l.fdEntry(srv.h).v.fd))
		s.ReleaseRef(srv)
		runUntil(t, d, "the write to fail", func() bool { return w.done })
		if w.status != IOStatusDisconnected || w.n < 1<<16 || w.n >= 64<<20 {
			t.Fatalf("write to a reset peer: %+v", w)
		}
		if err := d.LastError(c); !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, syscall.EPIPE) {
			t.Fatalf("LastError %v", err)
		}
		if st := s.ConnectionState(c); st != ConnectionClosed {
			t.Fatalf("state after a reset: %v", st)
		}
		// Reading now reports the end too, and so does writing.
		r = ioResult{}
		s.Read(c, make([]byte, 8), IOModeOnce, r.cb)
		runUntil(t, d, "read after reset", func() bool { return r.done })
		if r.status == IOStatusOK {
			t.Fatalf("read after reset: %+v", r)
		}
		s.ReleaseRef(c)
	})
}

// A peer that does not read for a while: a 64 MiB write waits, completes
// once the peer drains it, and the driver copies nothing meanwhile.
func TestPeerThatDoesNotReadBackpressure(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *Driver) {
		s := d.Sockets()
		c, srv := streamPair(t, d, MustParseAddr("127.0.0.1:0"))
		data := make([]byte, 64<<20)
		for i := 0; i < len(data); i += 4096 {
			data[i] = byte(i >> 12)
		}
		heap := heapInUse()
		var w ioResult
		s.Write(c, data, IOModeAll, w.cb)
		runFor(d, 200*time.Millisecond)
		if w.done {
			t.Fatal("a 64 MiB write completed though the peer read nothing")
		}
		if grown := int64(heapInUse()) - int64(heap); grown > 8<<20 {
			t.Errorf("the pending write grew the heap by %d bytes", grown)
		}
		got := make([]byte, len(data))
		var r ioResult
		s.Read(srv, got, IOModeAll, r.cb)
		runUntil(t, d, "the drain", func() bool { return w.done && r.done })
		if w.status != IOStatusOK || w.n != len(data) || r.n != len(data) || !bytes.Equal(got, data) {
			t.Fatalf("write %+v read %+v", w, r)
		}
		s.ReleaseRef(c)
		s.ReleaseRef(srv)
	})
}

func TestPeerDripsOneByteAtATime(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *Driver) {
		s := d.Sockets()
		lst, _ := s.ListenStream(MustParseAddr("127.0.0.1:0"), ListenDefaults, nil)
		addr, _ := s.LocalAddress(lst)
		const n = 500
		want := make([]byte, n)
		for i := range want {
			want[i] = byte(rand.Uint32())
		}
		go func() {
			conn, err := net.Dial("tcp", addr.String())
			if err != nil {
				return
			}
			defer conn.Close()
			for i := range want {
				conn.Write(want[i : i+1])
				if i%50 == 0 {
					time.Sleep(time.Millisecond)
				}
			}
		}()
		var srv StreamSocket
		s.WaitForConnections(lst, func(_ StreamListener, c StreamSocket, _ Addr) { srv = c })
		runUntil(t, d, "the dripping peer", func() bool { return srv != (StreamSocket{}) })
		got := make([]byte, n)
		var r ioResult
		s.Read(srv, got, IOModeAll, r.cb)
		runUntil(t, d, "all drops", func() bool { return r.done })
		if r.status != IOStatusOK || !bytes.Equal(got, want) {
			t.Fatalf("read %+v; data intact: %v", r, bytes.Equal(got, want))
		}
		var end ioResult
		s.Read(srv, got[:1], IOModeOnce, end.cb)
		runUntil(t, d, "end of stream", func() bool { return end.done })
		if end.status != IOStatusDisconnected {
			t.Fatalf("after the drip: %+v", end)
		}
		s.ReleaseRef(srv)
		s.ReleaseRef(lst)
	})
}

// A flood of connections that are reset by their client at once, or that
// the server closes as soon as it accepts them; the server then still
// serves a well-behaved client.
func TestConnectionFlood(t *testing.T) {
	checkNoFDLeak(t)
	forEachDriver(t, func(t *testing.T, d *Driver) {
		s := d.Sockets()
		accepted := 0
		lst, _ := s.ListenStream(MustParseAddr("127.0.0.1:0"), ListenDefaults, func(_ StreamListener, c StreamSocket, _ Addr) {
			accepted++
			if accepted%2 == 0 {
				s.ReleaseRef(c) // closed straight after accept
				return
			}
			s.Read(c, make([]byte, 8), IOModeOnce, func(c StreamSocket, st IOStatus, _ int) {
				s.ReleaseRef(c) // sees the reset or the end
			})
		})
		addr, _ := s.LocalAddress(lst)
		port := int(addr.Port())
		const flood = 1000
		done := make(chan struct{})
		go func() {
			defer close(done)
			sa := &syscall.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}
			for i := range flood {
				fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
				if err != nil {
					continue
				}
				if syscall.Connect(fd, sa) == nil && i%3 == 0 {
					syscall.SetsockoptLinger(fd, syscall.SOL_SOCKET, syscall.SO_LINGER, &syscall.Linger{Onoff: 1, Linger: 0})
				}
				syscall.Close(fd)
			}
		}()
		runUntil(t, d, "the flood", func() bool {
			select {
			case <-done:
				return true
			default:
				return false
			}
		})
		runFor(d, 100*time.Millisecond)
		if accepted == 0 {
			t.Fatal("nothing accepted")
		}
		// Still serving.
		status := ConnectStatus(255)
		c := s.ConnectStream(addr, Addr{}, func(_ StreamSocket, st ConnectStatus) { status = st })
		runUntil(t, d, "a normal client", func() bool { return status != 255 })
		if status != ConnectStatusConnected {
			t.Fatalf("connect after the flood: %v", status)
		}
		s.ReleaseRef(c)
		runFor(d, 50*time.Millisecond)
		s.ReleaseRef(lst)
		if n := len(d.OpenHandles()); n != 0 {
			t.Fatalf("%d handles left after the flood: %+v", n, d.OpenHandles())
		}
		t.Logf("%d connections accepted: %d flooding ones and one well-behaved", accepted, flood)
	})
}

// A peer that sends TCP urgent data: a read stops short at the urgent mark
// with data still queued behind it, so that short read must not be taken
// for an empty socket (the loop would then wait for a readiness event that
// never comes: the data is already there).
func TestPeerSendsUrgentData(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *Driver) {
		s := d.Sockets()
		srv, fd := rawPeer(t, d)
		defer syscall.Close(fd)
		buf := make([]byte, 100)
		var got []byte
		var r ioResult
		var read func(StreamSocket, IOStatus, int)
		read = func(c StreamSocket, st IOStatus, n int) {
			r.cb(c, st, n)
			got = append(got, buf[:n]...)
			if st == IOStatusOK && len(got) < 5 {
				s.Read(srv, buf, IOModeOnce, read)
			}
		}
		// Pending before anything arrives, so that the whole burst comes
		// in one readiness event and the first read meets the mark.
		s.Read(srv, buf, IOModeOnce, read)
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
		s.ReleaseRef(srv)
	})
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
		{"reset", func(t *testing.T, fd int) { resetFD(t, fd); syscall.Close(fd) }, []IOStatus{IOStatusDisconnected, IOStatusError}},
	}
	for _, end := range ends {
		t.Run(end.name, func(t *testing.T) {
			forEachDriver(t, func(t *testing.T, d *Driver) {
				s := d.Sockets()
				srv, fd := rawPeer(t, d)
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

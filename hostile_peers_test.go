package eventcore

import (
	"bytes"
	"math/rand/v2"
	"net"
	"testing"
	"time"
)

// Hostile peers: resets, stalls, drips and floods. The loop must report
// each as a status, lose no data that did arrive, and keep serving.

// resetFD makes closing the driver's socket h send a reset instead of an
// orderly end.
func resetFD(t *testing.T, d *Driver, h StreamSocket) {
	t.Helper()
	if err := resetOnClose(uintptr(d.l.fdEntry(h.h).v.fd)); err != nil {
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
		resetFD(t, d, srv)
		s.ReleaseRef(srv)
		runUntil(t, d, "the write to fail", func() bool { return w.done })
		if w.status != IOStatusDisconnected || w.n < 1<<16 || w.n >= 64<<20 {
			t.Fatalf("write to a reset peer: %+v", w)
		}
		if err := d.LastError(c); !isAny(err, errPeerReset) {
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
		const flood = 1000
		done := make(chan struct{})
		go func() {
			defer close(done)
			for i := range flood {
				conn, err := net.Dial("tcp", addr.String())
				if err != nil {
					continue
				}
				if i%3 == 0 {
					conn.(*net.TCPConn).SetLinger(0) // closing resets
				}
				conn.Close()
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

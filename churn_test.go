package eventcore

import (
	"encoding/binary"
	"hash/crc32"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Churn: many short connections against a server on one loop, clients on a
// second loop in another goroutine. Each client sends a length-prefixed
// random payload with its checksum; the server echoes it and closes first
// (so TIME_WAIT stays on the server's side and client ports do not run
// out); the client reads to the end and checks every byte.

const churnHeader = 8 // length and CRC-32 of the payload

type churnServer struct {
	d   *Driver
	s   Sockets
	lst StreamListener
}

type churnConn struct {
	buf  []byte
	want int // bytes expected in all (header + payload), once the header is in
}

func newChurnServer(t *testing.T, d *Driver) *churnServer {
	srv := &churnServer{d: d, s: d.Sockets()}
	var err error
	srv.lst, err = srv.s.ListenStream(MustParseAddr("127.0.0.1:0"), ListenDefaults, srv.accept)
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

func (srv *churnServer) accept(_ StreamListener, c StreamSocket, _ Addr) {
	st := UserData[churnConn](srv.d, c)
	st.buf = make([]byte, 0, 4096)
	srv.readMore(c, st)
}

func (srv *churnServer) readMore(c StreamSocket, st *churnConn) {
	if len(st.buf) == cap(st.buf) {
		st.buf = append(st.buf, 0)[:len(st.buf)]
	}
	srv.s.Read(c, st.buf[len(st.buf):cap(st.buf)], IOModeOnce, srv.onRead)
}

func (srv *churnServer) onRead(c StreamSocket, status IOStatus, n int) {
	st := UserData[churnConn](srv.d, c)
	if status != IOStatusOK {
		srv.s.ReleaseRef(c)
		return
	}
	st.buf = st.buf[:len(st.buf)+n]
	if st.want == 0 && len(st.buf) >= churnHeader {
		st.want = churnHeader + int(binary.LittleEndian.Uint32(st.buf))
	}
	if st.want == 0 || len(st.buf) < st.want {
		srv.readMore(c, st)
		return
	}
	srv.s.Write(c, st.buf[:st.want], IOModeAll, func(c StreamSocket, _ IOStatus, _ int) {
		srv.s.ReleaseRef(c) // the server closes first
	})
}

type churnClient struct {
	d        *Driver
	s        Sockets
	addr     Addr
	left     int // connections still to start
	running  int
	done     int
	bad      int
	bytes    int64
	payloads [][]byte
}

func (cl *churnClient) start() {
	cl.left--
	cl.running++
	p := cl.payloads[rand.IntN(len(cl.payloads))]
	got := make([]byte, 0, len(p)+1)
	var read IOCallback
	read = func(c StreamSocket, st IOStatus, n int) {
		got = got[:len(got)+n]
		if st == IOStatusOK && len(got) < cap(got) {
			cl.s.Read(c, got[len(got):cap(got)], IOModeOnce, read)
			return
		}
		if st != IOStatusDisconnected || string(got) != string(p) {
			cl.bad++
		}
		cl.bytes += int64(len(got))
		cl.s.ReleaseRef(c)
		cl.finish()
	}
	cl.s.ConnectStream(cl.addr, Addr{}, func(c StreamSocket, st ConnectStatus) {
		if st != ConnectStatusConnected {
			cl.bad++
			cl.s.ReleaseRef(c)
			cl.finish()
			return
		}
		cl.s.Write(c, p, IOModeAll, func(c StreamSocket, st IOStatus, _ int) {
			if st != IOStatusOK {
				cl.bad++
			}
		})
		cl.s.Read(c, got[:0:cap(got)], IOModeOnce, read)
	})
}

func (cl *churnClient) finish() {
	cl.running--
	cl.done++
	if cl.left > 0 {
		cl.start()
	}
}

func churnPayloads() [][]byte {
	var out [][]byte
	for _, n := range []int{0, 1, 100, 1500, 4000, 20000} {
		p := make([]byte, churnHeader+n)
		for i := churnHeader; i < len(p); i++ {
			p[i] = byte(rand.Uint32())
		}
		binary.LittleEndian.PutUint32(p, uint32(n))
		binary.LittleEndian.PutUint32(p[4:], crc32.ChecksumIEEE(p[churnHeader:]))
		out = append(out, p)
	}
	return out
}

// rssBytes is the process's resident set size (Linux), 0 where unknown.
func rssBytes() uint64 {
	raw, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(raw))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseUint(f[1], 10, 64)
	return pages * uint64(os.Getpagesize())
}

func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

func TestChurn(t *testing.T) {
	checkNoFDLeak(t)
	total, concurrent := 100_000, 300
	if testing.Short() || raceEnabled || checkedMode {
		total = 10_000
	}
	total *= soak
	for _, name := range testDrivers(t) {
		t.Run(name, func(t *testing.T) {
			sd, cd := newTestDriver(t, name), newTestDriver(t, name)
			srv := newChurnServer(t, sd)
			addr, _ := srv.s.LocalAddress(srv.lst)
			cl := &churnClient{d: cd, s: cd.Sockets(), addr: addr, left: total, payloads: churnPayloads()}

			stop := make(chan struct{})
			served := make(chan struct{})
			go func() {
				defer close(served)
				for {
					select {
					case <-stop:
						return
					default:
						sd.Core().ProcessEvents(10 * time.Millisecond)
					}
				}
			}()
			for range concurrent {
				cl.start()
			}
			deadline := time.Now().Add(time.Duration(soak) * 10 * time.Minute)
			var warm, warmRSS uint64
			for cl.done < total && time.Now().Before(deadline) && cl.bad == 0 {
				cd.Core().ProcessEvents(10 * time.Millisecond)
				if warm == 0 && cl.done >= total/3 {
					warm, warmRSS = heapInUse(), rssBytes()
				}
			}
			close(stop)
			<-served
			if cl.done != total || cl.bad != 0 {
				t.Fatalf("%d of %d cycles done, %d bad", cl.done, total, cl.bad)
			}
			// Cycles after warm-up must not have grown the heap: a leak of
			// even a few bytes per cycle would show here.
			if grown := int64(heapInUse()) - int64(warm); grown > 4<<20 {
				t.Errorf("heap grew by %d bytes over the last %d cycles", grown, total-total/3)
			}
			if rss := rssBytes(); warmRSS > 0 && rss > warmRSS+32<<20 {
				t.Errorf("RSS grew from %d to %d bytes over the last %d cycles", warmRSS, rss, total-total/3)
			}
			sd.Core().ProcessEvents(0) // takes the server's loop back from the goroutine that ran it
			srv.s.ReleaseRef(srv.lst)
			// The server's side of the last connections may still be open.
			runUntil(t, sd, "server connections to close", func() bool { return len(sd.OpenHandles()) == 0 })
			if !sd.Dispose() || !cd.Dispose() {
				t.Errorf("handles left: server %+v, client %+v", sd.OpenHandles(), cd.OpenHandles())
			}
			t.Logf("%d cycles, %d bytes echoed intact", cl.done, cl.bytes)
			checkNoDriverGoroutines(t)
		})
	}
}

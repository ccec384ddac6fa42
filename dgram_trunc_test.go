package eventcore

import (
	"bytes"
	"path/filepath"
	"testing"
)

// A datagram larger than the receive buffer completes with
// IOStatusTruncated and n = len(buf), the buffer holding its start; the
// rest is gone (the next receive gets the next datagram). One that fits
// exactly is not truncated. UDP over IPv4 and IPv6, and Unix-domain
// datagram sockets where the system has them; IOModeOnce and
// IOModeImmediate.
func TestDatagramTruncationReported(t *testing.T) {
	type pair struct {
		name       string
		bind, peer Addr
	}
	if got := IOStatusTruncated.String(); got != "truncated" {
		t.Errorf("IOStatusTruncated.String() = %q", got)
	}
	dir := tempDir(t)
	forEachDriver(t, func(t *testing.T, d *Driver) {
		pairs := []pair{
			{"udp4", MustParseAddr("127.0.0.1:0"), MustParseAddr("127.0.0.1:0")},
			{"udp6", MustParseAddr("[::1]:0"), MustParseAddr("[::1]:0")},
		}
		if haveUnixDatagram {
			pairs = append(pairs, pair{"unix",
				UnixAddr(filepath.Join(dir, d.Name()+"-rx")), UnixAddr(filepath.Join(dir, d.Name()+"-tx"))})
		}
		s := d.Sockets()
		for _, p := range pairs {
			rx := newDgram(t, d, p.bind, Addr{})
			to := mustLocal(t, s, rx)
			tx := newDgram(t, d, p.peer, Addr{})
			from := mustLocal(t, s, tx)
			send := func(msg string) {
				t.Helper()
				var w dgramResult
				s.Send(tx, []byte(msg), IOModeOnce, to, w.cb)
				runUntil(t, d, "send", func() bool { return w.done })
				if w.status != IOStatusOK || w.n != len(msg) {
					t.Fatalf("%s: send %q: %+v (%v)", p.name, msg, w, d.LastError(tx))
				}
			}
			buf := make([]byte, 8)
			for _, mode := range []IOMode{IOModeOnce, IOModeImmediate} {
				for _, c := range []struct {
					msg  string
					want IOStatus
				}{
					{"0123456789abcdef", IOStatusTruncated},
					{"exactly8", IOStatusOK},
					{"012345678", IOStatusTruncated},
					{"short", IOStatusOK},
				} {
					clear(buf)
					var r dgramResult
					if mode == IOModeOnce {
						// Pending first: the datagram arrives while it waits.
						s.Receive(rx, buf, mode, r.cb)
						send(c.msg)
					} else {
						send(c.msg)
						var wait dgramResult
						s.Receive(rx, nil, IOModeOnce, wait.cb)
						runUntil(t, d, "a datagram to receive", func() bool { return wait.done })
						s.Receive(rx, buf, mode, r.cb)
					}
					runUntil(t, d, "receive", func() bool { return r.done })
					n := min(len(c.msg), len(buf))
					if r.status != c.want || r.n != n || !bytes.Equal(buf[:r.n], []byte(c.msg[:n])) || r.addr != from {
						t.Errorf("%s, %v: %q into %d bytes: %+v %q, want %v, %d bytes from %v",
							p.name, mode, c.msg, len(buf), r, buf[:r.n], c.want, n, from)
					}
				}
			}
			s.ReleaseRef(rx)
			s.ReleaseRef(tx)
		}
	})
}

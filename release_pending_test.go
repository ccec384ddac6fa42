package eventcore

import (
	"errors"
	"net"
	"os"
	"testing"
	"time"
)

// Releasing a stream socket whose write is pending closes the connection
// at once. The peer here never reads, and keeps sending what is never read:
// once the socket is closed, its sends fail (a reset) instead of waiting
// forever. A server that drops a client for not reading (issue 10, defect
// 16: examples/http's write timeout) frees nothing otherwise. Under Wine a
// pending overlapped send kept the socket open after closesocket, as long
// as the peer took nothing.
func TestReleaseWithPendingWriteCloses(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *Driver) {
		s := d.Sockets()
		var srv StreamSocket
		lst, err := s.ListenStream(MustParseAddr("127.0.0.1:0"), ListenDefaults, func(_ StreamListener, c StreamSocket, _ Addr) { srv = c })
		if err != nil {
			t.Fatal(err)
		}
		addr, _ := s.LocalAddress(lst)
		peer, err := net.Dial("tcp", addr.String())
		if err != nil {
			t.Fatal(err)
		}
		defer peer.Close()
		peer.(*net.TCPConn).SetReadBuffer(16 << 10)
		peer.SetWriteDeadline(time.Now().Add(hangLimit))
		sent := make(chan error, 1)
		go func() {
			chunk := make([]byte, 64<<10)
			for n := 0; n < 1<<30; n += len(chunk) {
				if _, err := peer.Write(chunk); err != nil {
					sent <- err
					return
				}
			}
			sent <- nil
		}()
		runUntil(t, d, "the connection", func() bool { return srv != (StreamSocket{}) })
		var w ioResult
		s.Write(srv, make([]byte, 64<<20), IOModeAll, w.cb)
		runFor(d, 100*time.Millisecond)
		if w.done {
			t.Fatalf("a 64 MiB write completed though the peer read nothing: %+v", w)
		}
		s.ReleaseRef(srv)
		s.ReleaseRef(lst)
		var end error
		runUntil(t, d, "the peer's sends to end", func() bool {
			select {
			case end = <-sent:
				return true
			default:
				return false
			}
		})
		if end == nil || errors.Is(end, os.ErrDeadlineExceeded) {
			t.Fatalf("the peer's sends after the release: %v, want a reset", end)
		}
		if w.done {
			t.Errorf("the released write's callback ran: %+v", w)
		}
	})
}

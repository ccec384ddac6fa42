package tlsstream

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eventcore-go/eventcore"
)

// TestKeepAliveReadsNoEmptySocket: a server that waits for data, reads
// what came at once and answers (as examples/http does) gets each request
// from one read: a loaned read's buffer (or what it left aside, when the
// loaned read completed at once, inside the read that waited for it), or
// a read of the socket. Once the read that took a request found the
// socket empty, the immediate read that takes the request's bytes (held by
// crypto/tls) and the wait for the next request make no system call that
// would find nothing.
func TestKeepAliveReadsNoEmptySocket(t *testing.T) {
	p := certs(t)
	const rounds = 50
	forEachVersion(t, Config{}, func(t *testing.T, d *eventcore.Driver, l *Layer, v uint16) {
		var srv *Stream
		empty, reads := 0, 0
		testHookRecv = func(s *Stream, n int, err error, from recvFrom) {
			if s != srv || s.hs != nil {
				return // the handshake's reads are not counted
			}
			if from == recvSocket || n > 0 { // or a loan, or what one left (it came at once)
				reads++
			}
			if from == recvSocket && err == errWouldBlock {
				empty++
			}
		}
		defer func() { testHookRecv = nil }()
		buf := make([]byte, 256)
		var onData, onRead, onWrote IOCallback
		onData = func(s *Stream, st eventcore.IOStatus, _ int) {
			if st != eventcore.IOStatusOK {
				s.Close()
				return
			}
			s.Read(buf, eventcore.IOModeImmediate, onRead)
		}
		onRead = func(s *Stream, st eventcore.IOStatus, n int) {
			switch st {
			case eventcore.IOStatusOK:
				s.Write(buf[:n], eventcore.IOModeImmediate, onWrote)
			case eventcore.IOStatusWouldBlock:
				s.WaitForData(onData)
			default:
				s.Close()
			}
		}
		onWrote = func(s *Stream, st eventcore.IOStatus, _ int) {
			if st != eventcore.IOStatusOK {
				s.Close()
				return
			}
			s.WaitForData(onData)
		}
		lst, addr := listenLoop(t, d, l, p.serverConfig(v), func(s *Stream, err error) {
			if err != nil {
				t.Error(err)
				return
			}
			srv = s
			s.WaitForData(onData)
		})
		defer d.Sockets().ReleaseRef(lst)
		peer := pingPong(addr, p.clientConfig(v), slices.Repeat([]string{strings.Repeat("request ", 8)}, rounds)...)
		if err := waitPeer(t, d, peer); err != nil {
			t.Fatal(err)
		}
		// One read that finds nothing may follow the handshake, whose last
		// read need not have been short; and that read (not counted) may
		// have taken the first request with the client's Finished.
		if reads < rounds-1 || reads > rounds+1 || empty > 1 {
			t.Fatalf("%d reads for %d requests, %d of them found the socket empty", reads, rounds, empty)
		}
		if srv != nil {
			srv.Close()
		}
	})
}

// TestImmediateReadSeesNewData: an immediate read reads the socket even
// when the stream knows it empty since its last read, with no wait
// between: bytes that came meanwhile are taken, not left for a readiness
// that nobody waits for.
func TestImmediateReadSeesNewData(t *testing.T) {
	p := certs(t)
	forEachVersion(t, Config{}, func(t *testing.T, d *eventcore.Driver, l *Layer, v uint16) {
		var srv *Stream
		buf := make([]byte, 256)
		answered := 0
		onWrote := func(s *Stream, st eventcore.IOStatus, _ int) {
			if st == eventcore.IOStatusOK {
				answered++
			}
		}
		lst, addr := listenLoop(t, d, l, p.serverConfig(v), func(s *Stream, err error) {
			if err != nil {
				t.Error(err)
				return
			}
			srv = s
			// The first request: a short read leaves the stream knowing
			// the socket empty; then nothing waits on it.
			s.Read(buf, eventcore.IOModeOnce, func(s *Stream, st eventcore.IOStatus, n int) {
				if st == eventcore.IOStatusOK {
					s.Write(buf[:n], eventcore.IOModeAll, onWrote)
				}
			})
		})
		defer d.Sockets().ReleaseRef(lst)
		peer := pingPong(addr, p.clientConfig(v), "first", "again")
		runUntil(t, d, "the first answer", func() bool { return answered == 1 })
		if !srv.drained {
			t.Fatal("the stream does not know its socket empty after a short read")
		}
		runUntil(t, d, "an immediate read of the second request", func() bool {
			if ok, err := peer(); ok {
				t.Fatalf("the peer ended: %v", err)
			}
			r := readInto(srv, buf, eventcore.IOModeImmediate)
			if r.done && r.st == eventcore.IOStatusOK {
				srv.Write(buf[:r.n], eventcore.IOModeAll, onWrote)
				return true
			}
			if !r.done || r.st != eventcore.IOStatusWouldBlock {
				t.Fatalf("immediate read: %+v", *r)
			}
			return false
		})
		if err := waitPeer(t, d, peer); err != nil {
			t.Fatal(err)
		}
		srv.Close()
	})
}

// pingPong runs a crypto/tls client on a goroutine that sends each
// message and waits for it to come back before the next.
func pingPong(addr string, cfg *tls.Config, msgs ...string) func() (bool, error) {
	return goResult(func() error {
		c, err := tls.Dial("tcp", addr, cfg)
		if err != nil {
			return err
		}
		defer c.Close()
		for i, m := range msgs {
			if _, err := io.WriteString(c, m); err != nil {
				return err
			}
			got := make([]byte, len(m))
			if _, err := io.ReadFull(c, got); err != nil || string(got) != m {
				return fmt.Errorf("answer %d: %q, %v", i, got, err)
			}
		}
		return nil
	})
}

// TestLoanLeftKeptAside: records that come in one piece, read a few bytes
// at a time. crypto/tls takes a record at a time from the loaned read's
// buffer; what it leaves is kept aside for the reads after, in order, with
// the peer's close_notify behind it, and nothing is kept once taken.
func TestLoanLeftKeptAside(t *testing.T) {
	p := certs(t)
	forEachVersion(t, Config{}, func(t *testing.T, d *eventcore.Driver, l *Layer, v uint16) {
		o, c, cc, end := servedStd(t, d, l, p, v)
		defer end()
		var all, want []byte
		for i := range 5 {
			// More than crypto/tls asks the transport for at a time.
			msg := bytes.Repeat(fmt.Appendf(nil, "message %d of five, ", i), 20)
			want = append(want, msg...)
			all = append(all, sealed(t, c, cc, msg)...)
		}
		cc.catch()
		if err := c.CloseWrite(); err != nil {
			t.Fatal(err)
		}
		all = append(all, cc.records()...)
		cc.Conn.SetWriteDeadline(time.Time{}) // CloseWrite's, now past
		kept := 0
		testHookRecv = func(s *Stream, n int, _ error, from recvFrom) {
			if s == o.s && from == recvSpill {
				kept += n
			}
		}
		defer func() { testHookRecv = nil }()
		if _, err := cc.Conn.Write(all); err != nil {
			t.Fatal(err)
		}
		var got []byte
		buf := make([]byte, 77)
		for {
			r := readInto(o.s, buf, eventcore.IOModeOnce)
			runUntil(t, d, "a read", func() bool { return r.done })
			got = append(got, buf[:r.n]...)
			if r.st != eventcore.IOStatusOK {
				if r.st != eventcore.IOStatusDisconnected {
					t.Fatalf("read: %v, LastError %v", r.st, o.s.LastError())
				}
				break
			}
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("read %q, sent %q", got, want)
		}
		if kept == 0 || o.s.spill != nil || o.s.State() != eventcore.ConnectionPassiveClose {
			t.Fatalf("%d bytes taken from those kept aside, %d still kept, state %v", kept, len(o.s.spill), o.s.State())
		}
		o.s.Close()
	})
}

// TestShutdownReadDropsKept: shutting down reading drops the records a
// loaned read left aside, and reads after it complete with
// IOStatusDisconnected.
func TestShutdownReadDropsKept(t *testing.T) {
	p := certs(t)
	forEachVersion(t, Config{}, func(t *testing.T, d *eventcore.Driver, l *Layer, v uint16) {
		o, c, cc, end := servedStd(t, d, l, p, v)
		defer end()
		var all []byte
		for i := range 3 {
			all = append(all, sealed(t, c, cc, bytes.Repeat(fmt.Appendf(nil, "record %d, ", i), 60))...)
		}
		if _, err := cc.Conn.Write(all); err != nil {
			t.Fatal(err)
		}
		r := readInto(o.s, make([]byte, 10), eventcore.IOModeOnce)
		runUntil(t, d, "the first read", func() bool { return r.done })
		if r.st != eventcore.IOStatusOK || o.s.spill == nil {
			t.Fatalf("first read: %v, %d bytes kept aside", r.st, len(o.s.spill))
		}
		if err := o.s.Shutdown(true, false); err != nil {
			t.Fatal(err)
		}
		if r = readInto(o.s, make([]byte, 10), eventcore.IOModeOnce); !r.done || r.st != eventcore.IOStatusDisconnected || r.n != 0 {
			t.Fatalf("read after shutting reading down: %+v", *r)
		}
		if o.s.spill != nil || o.s.State() != eventcore.ConnectionPassiveClose {
			t.Fatalf("%d bytes still kept aside, state %v", len(o.s.spill), o.s.State())
		}
		o.s.Close()
	})
}

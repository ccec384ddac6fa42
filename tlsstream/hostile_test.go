package tlsstream

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eventcore-go/eventcore"
)

// Hostile peers: each gets a clear error, its stream is closed, and
// nothing is left behind (forEachDriver checks handles, goroutines and
// descriptors).

// captureConn is a client's connection whose writes can be caught instead
// of sent, so that a test sends crypto/tls's records as it likes: cut,
// dripped, corrupted.
type captureConn struct {
	net.Conn
	mu      sync.Mutex
	capture bool
	caught  bytes.Buffer
	drip    bool // send every byte in a write of its own
}

func (c *captureConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.capture:
		return c.caught.Write(p)
	case c.drip:
		for i := range p {
			if _, err := c.Conn.Write(p[i : i+1]); err != nil {
				return i, err
			}
		}
		return len(p), nil
	}
	return c.Conn.Write(p)
}

// catch turns capturing on.
func (c *captureConn) catch() {
	c.mu.Lock()
	c.capture = true
	c.mu.Unlock()
}

// records turns capturing off and returns what was caught.
func (c *captureConn) records() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.capture = false
	b := bytes.Clone(c.caught.Bytes())
	c.caught.Reset()
	return b
}

// handshakeStd connects a crypto/tls client to o's server and
// handshakes, the loop running meanwhile, and checks that o's stream
// took it; then the client's writes are caught.
func handshakeStd(t testing.TB, d *eventcore.Driver, o *oneServer, cfg *tls.Config) (*tls.Conn, *captureConn) {
	t.Helper()
	raw, err := net.Dial("tcp", o.addr)
	if err != nil {
		t.Fatal(err)
	}
	cc := &captureConn{Conn: raw}
	c := tls.Client(cc, cfg)
	if err := waitPeer(t, d, goResult(c.Handshake)); err != nil {
		raw.Close()
		t.Fatal(err)
	}
	o.wait(t, d)
	if o.err != nil {
		raw.Close()
		t.Fatal(o.err)
	}
	cc.catch()
	return c, cc
}

// servedStd listens with our server and has a crypto/tls client of
// version v handshake with it (handshakeStd); end closes the client and
// the listener.
func servedStd(t testing.TB, d *eventcore.Driver, l *Layer, p *pki, v uint16) (o *oneServer, c *tls.Conn, cc *captureConn, end func()) {
	t.Helper()
	o = listenOne(t, d, l, p.serverConfig(v))
	c, cc = handshakeStd(t, d, o, p.clientConfig(v))
	return o, c, cc, func() {
		cc.Conn.Close()
		d.Sockets().ReleaseRef(o.lst)
	}
}

// sealed returns the records crypto/tls's client makes of msg, caught
// rather than sent.
func sealed(t testing.TB, c *tls.Conn, cc *captureConn, msg []byte) []byte {
	t.Helper()
	cc.catch()
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	return cc.records()
}

// oneServer listens with our server and keeps the one stream accepted
// and how its handshake ended.
type oneServer struct {
	lst      eventcore.StreamListener
	addr     string
	s        *Stream
	err      error
	accepted bool
}

func listenOne(t testing.TB, d *eventcore.Driver, l *Layer, cfg *tls.Config) *oneServer {
	o := &oneServer{}
	o.lst, o.addr = listenLoop(t, d, l, cfg, func(s *Stream, err error) { o.s, o.err, o.accepted = s, err, true })
	return o
}

// dialRaw connects a plain TCP peer to o's server: one that sends what it
// likes.
func (o *oneServer) dialRaw(t testing.TB) *net.TCPConn {
	t.Helper()
	raw, err := net.Dial("tcp", o.addr)
	if err != nil {
		t.Fatal(err)
	}
	return raw.(*net.TCPConn)
}

func (o *oneServer) wait(t testing.TB, d *eventcore.Driver) {
	t.Helper()
	runUntil(t, d, "the handshake's end", func() bool { return o.accepted })
}

// readResult is a pending read's outcome.
type readResult struct {
	done bool
	st   eventcore.IOStatus
	n    int
}

func readInto(s *Stream, buf []byte, mode eventcore.IOMode) *readResult {
	r := &readResult{}
	s.Read(buf, mode, func(_ *Stream, st eventcore.IOStatus, n int) { *r = readResult{true, st, n} })
	return r
}

// expectFailedHandshake checks that the handshake failed with an error
// that check accepts, and that the stream is closed.
func expectFailedHandshake(t *testing.T, o *oneServer, check func(error) bool) {
	t.Helper()
	if o.err == nil || !check(o.err) {
		t.Fatalf("handshake error %v (%T)", o.err, o.err)
	}
	if o.s.State() != eventcore.ConnectionClosed || o.s.LastError() != o.err {
		t.Fatalf("after the failure: state %v, LastError %v", o.s.State(), o.s.LastError())
	}
	o.s.Close()
}

// refusedHello sends sent to our server in place of a client's hello (and
// then ends its stream, if end), and checks that the handshake failed
// with an error check accepts and that the server closed the connection.
func refusedHello(t *testing.T, d *eventcore.Driver, l *Layer, cfg *tls.Config, sent []byte, end bool, check func(error) bool) {
	t.Helper()
	o := listenOne(t, d, l, cfg)
	defer d.Sockets().ReleaseRef(o.lst)
	raw := o.dialRaw(t)
	defer raw.Close()
	raw.Write(sent)
	if end {
		raw.CloseWrite()
	}
	o.wait(t, d)
	expectFailedHandshake(t, o, check)
	peerSeesClose(t, d, raw)
}

func isRecordHeaderError(err error) bool {
	var rh tls.RecordHeaderError
	return errors.As(err, &rh)
}

// peerSeesClose reads from raw until the server has closed it.
func peerSeesClose(t *testing.T, d *eventcore.Driver, raw net.Conn) {
	t.Helper()
	if err := waitPeer(t, d, goResult(func() error {
		_, err := io.Copy(io.Discard, raw)
		return err
	})); err != nil && !strings.Contains(err.Error(), "reset") {
		t.Fatalf("the peer's read: %v", err)
	}
}

func TestHostileGarbageHello(t *testing.T) {
	p := certs(t)
	forEachDriver(t, Config{}, func(t *testing.T, d *eventcore.Driver, l *Layer) {
		refusedHello(t, d, l, p.serverConfig(0), []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), false, isRecordHeaderError)
	})
}

func TestHostileTruncatedRecord(t *testing.T) {
	p := certs(t)
	forEachVersion(t, Config{}, func(t *testing.T, d *eventcore.Driver, l *Layer, v uint16) {
		subtest(t, d, "Hello", func(t *testing.T) {
			// A ClientHello's record header and a few of its bytes.
			refusedHello(t, d, l, p.serverConfig(v), []byte{22, 3, 1, 1, 0, 1, 0, 0}, true, func(err error) bool { return errors.Is(err, io.ErrUnexpectedEOF) })
		})
		subtest(t, d, "Data", func(t *testing.T) {
			o, c, cc, end := servedStd(t, d, l, p, v)
			defer end()
			recs := sealed(t, c, cc, []byte("a whole message"))
			r := readInto(o.s, make([]byte, 64), eventcore.IOModeAll)
			cc.Conn.Write(recs[:len(recs)-3])
			cc.Conn.(*net.TCPConn).CloseWrite()
			runUntil(t, d, "the read's end", func() bool { return r.done })
			if r.st != eventcore.IOStatusDisconnected || !errors.Is(o.s.LastError(), io.ErrUnexpectedEOF) || o.s.State() != eventcore.ConnectionClosed {
				t.Fatalf("cut record: %v, LastError %v, state %v", r.st, o.s.LastError(), o.s.State())
			}
			o.s.Close()
		})
	})
}

func TestHostileResetMidHandshake(t *testing.T) {
	p := certs(t)
	forEachDriver(t, Config{}, func(t *testing.T, d *eventcore.Driver, l *Layer) {
		o := listenOne(t, d, l, p.serverConfig(0))
		defer d.Sockets().ReleaseRef(o.lst)
		raw := o.dialRaw(t)
		raw.Write([]byte{22, 3, 1, 1, 0, 1})
		raw.SetLinger(0) // Close sends a reset
		raw.Close()
		o.wait(t, d)
		expectFailedHandshake(t, o, func(err error) bool { return err != nil })
	})
}

func TestHostileStall(t *testing.T) {
	p := certs(t)
	forEachDriver(t, Config{HandshakeTimeout: 50 * time.Millisecond}, func(t *testing.T, d *eventcore.Driver, l *Layer) {
		for _, sent := range [][]byte{nil, {22, 3, 1, 1, 0, 1}} {
			o := listenOne(t, d, l, p.serverConfig(0))
			raw := o.dialRaw(t)
			raw.Write(sent)
			o.wait(t, d)
			expectFailedHandshake(t, o, func(err error) bool { return err == ErrHandshakeTimeout })
			peerSeesClose(t, d, raw)
			raw.Close()
			d.Sockets().ReleaseRef(o.lst)
			// The goroutine of a handshake that waited for bytes ends.
			runUntil(t, d, "the handshaker's end", func() bool {
				l.pool.mu.Lock()
				defer l.pool.mu.Unlock()
				return l.pool.running == 0
			})
		}
	})
}

func TestHostileAlert(t *testing.T) {
	p := certs(t)
	forEachVersion(t, Config{}, func(t *testing.T, d *eventcore.Driver, l *Layer, v uint16) {
		subtest(t, d, "Hello", func(t *testing.T) {
			// A fatal handshake_failure alert.
			refusedHello(t, d, l, p.serverConfig(v), []byte{21, 3, 1, 0, 2, 2, 40}, false, func(err error) bool {
				var op *net.OpError
				return errors.As(err, &op) && op.Op == "remote error"
			})
		})
		subtest(t, d, "Data", func(t *testing.T) {
			// Our client, a server that refuses it at the end of the
			// handshake (a TLS 1.3 client learns it after its own end).
			scfg := p.serverConfig(v)
			scfg.ClientAuth = tls.RequireAnyClientCert
			sv := startStdServer(t, scfg, stdEcho)
			s := l.Dial(sv.addr, p.clientConfig(v), nil)
			r := readInto(s, make([]byte, 8), eventcore.IOModeOnce)
			runUntil(t, d, "the read's end", func() bool { return r.done })
			var op *net.OpError
			if r.st != eventcore.IOStatusError || !errors.As(s.LastError(), &op) || op.Op != "remote error" || s.State() != eventcore.ConnectionClosed {
				t.Fatalf("refused client: %v, LastError %v, state %v", r.st, s.LastError(), s.State())
			}
			s.Close()
			sv.errors()
		})
	})
}

// A whole handshake and exchange dripped a byte per segment, both ways.
func TestHostileDrip(t *testing.T) {
	p := certs(t)
	forEachVersion(t, Config{}, func(t *testing.T, d *eventcore.Driver, l *Layer, v uint16) {
		subtest(t, d, "OurServer", func(t *testing.T) {
			lst, addr := listenLoop(t, d, l, p.serverConfig(v), func(s *Stream, err error) {
				if err != nil {
					t.Errorf("server: %v", err)
					return
				}
				echo(s)
			})
			defer d.Sockets().ReleaseRef(lst)
			peer := goResult(func() error {
				raw, err := net.Dial("tcp", addr)
				if err != nil {
					return err
				}
				c := tls.Client(&captureConn{Conn: raw, drip: true}, p.clientConfig(v))
				defer c.Close()
				return exchange(c, [][]byte{[]byte("drip, drip")})
			})
			if err := waitPeer(t, d, peer); err != nil {
				t.Fatal(err)
			}
		})
		subtest(t, d, "OurClient", func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			srv := goResult(func() error {
				raw, err := ln.Accept()
				if err != nil {
					return err
				}
				c := tls.Server(&captureConn{Conn: raw, drip: true}, p.serverConfig(v))
				defer c.Close()
				return stdEcho(c)
			})
			a, _ := eventcore.AddrFromNet(ln.Addr())
			if err := waitPeer(t, d, clientExchange(l.Dial(a, p.clientConfig(v), nil), [][]byte{[]byte("drip, drip")}, nil)); err != nil {
				t.Fatal(err)
			}
			if err := waitPeer(t, d, srv); err != nil {
				t.Fatal(err)
			}
		})
	})
}

// Records fed to the loop one byte at a time, each byte read on its own:
// crypto/tls gets the transport's temporary error after every byte, keeps
// the partial record, and is not poisoned by it (no sticky error).
func TestRecordsByteByByte(t *testing.T) {
	p := certs(t)
	forEachVersion(t, Config{}, func(t *testing.T, d *eventcore.Driver, l *Layer, v uint16) {
		o, c, cc, end := servedStd(t, d, l, p, v)
		defer end()
		msg := bytes.Repeat([]byte("record by record "), 200) // a few records
		recs := sealed(t, c, cc, msg)
		got, wouldBlock := 0, 0
		testHookRecv = func(s *Stream, n int, err error, _ recvFrom) {
			if s != o.s {
				return
			}
			got += n
			if err == errWouldBlock {
				wouldBlock++
			}
		}
		defer func() { testHookRecv = nil }()
		buf := make([]byte, len(msg))
		r := readInto(o.s, buf, eventcore.IOModeAll)
		// The loop has taken everything before (TLS 1.3: the session
		// tickets' acknowledgement is nothing: the client sends none).
		for i := range recs {
			if r.done {
				t.Fatalf("the read ended after %d of %d bytes: %v", i, len(recs), r.st)
			}
			cc.Conn.Write(recs[i : i+1])
			want := got + 1
			runUntil(t, d, fmt.Sprintf("the read of byte %d", i), func() bool { return got == want && (o.s.rwait || r.done) })
		}
		runUntil(t, d, "the read's end", func() bool { return r.done })
		if r.st != eventcore.IOStatusOK || r.n != len(msg) || !bytes.Equal(buf, msg) {
			t.Fatalf("read %v, %d bytes, LastError %v", r.st, r.n, o.s.LastError())
		}
		if wouldBlock < len(recs)-1 {
			t.Fatalf("%d temporary errors for %d bytes", wouldBlock, len(recs))
		}
		o.s.Close()
	})
}

func TestHostileOversizedRecord(t *testing.T) {
	p := certs(t)
	forEachVersion(t, Config{}, func(t *testing.T, d *eventcore.Driver, l *Layer, v uint16) {
		subtest(t, d, "Hello", func(t *testing.T) {
			refusedHello(t, d, l, p.serverConfig(v), []byte{22, 3, 1, 0xff, 0xff}, false, isRecordHeaderError)
		})
		subtest(t, d, "Data", func(t *testing.T) {
			o, _, cc, end := servedStd(t, d, l, p, v)
			defer end()
			r := readInto(o.s, make([]byte, 64), eventcore.IOModeOnce)
			// Application data of 16 KiB + 2 KiB + 1: one over the limit.
			cc.Conn.Write([]byte{23, 3, 3, 0x48, 0x01})
			runUntil(t, d, "the read's end", func() bool { return r.done })
			if r.st != eventcore.IOStatusError || !isRecordHeaderError(o.s.LastError()) || o.s.State() != eventcore.ConnectionClosed {
				t.Fatalf("oversized record: %v, LastError %v, state %v", r.st, o.s.LastError(), o.s.State())
			}
			o.s.Close()
		})
	})
}

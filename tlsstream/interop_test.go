package tlsstream

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"

	"github.com/eventcore-go/eventcore"
)

// Interoperability with crypto/tls on the other side, over real sockets:
// our server against tls.Dial, our client against tls.Server.

// exchange writes msgs on c from a goroutine of its own and reads them
// back (the peer echoes), then sends close_notify and expects the peer's.
func exchange(c *tls.Conn, msgs [][]byte) error {
	werr := make(chan error, 1)
	go func() {
		for _, m := range msgs {
			if _, err := c.Write(m); err != nil {
				werr <- err
				return
			}
		}
		werr <- nil
	}()
	for i, m := range msgs {
		got := make([]byte, len(m))
		if _, err := io.ReadFull(c, got); err != nil {
			return fmt.Errorf("reading echo %d: %w", i, err)
		}
		if !bytes.Equal(got, m) {
			return fmt.Errorf("echo %d differs", i)
		}
	}
	if err := <-werr; err != nil {
		return err
	}
	if err := c.CloseWrite(); err != nil {
		return err
	}
	if rest, err := io.ReadAll(c); err != nil || len(rest) > 0 {
		return fmt.Errorf("after close_notify: %d bytes, %v", len(rest), err)
	}
	return nil
}

// testMessages are small, record-sized and larger than a socket's buffer.
func testMessages() [][]byte {
	return [][]byte{[]byte("hello"), bytes.Repeat([]byte("0123456789abcdef"), 1024), bytes.Repeat([]byte{0xa5}, 1<<20), []byte("bye")}
}

func TestServerInteropStdClient(t *testing.T) {
	p := certs(t)
	forEachVersion(t, Config{}, func(t *testing.T, d *eventcore.Driver, l *Layer, v uint16) {
		cfg := p.serverConfig(v)
		cfg.NextProtos = []string{"h2", "x-echo"}
		var states []tls.ConnectionState
		var handshakeErr error
		lst, addr := listenLoop(t, d, l, cfg, func(s *Stream, err error) {
			if err != nil {
				handshakeErr = err
				return
			}
			if s.State() != eventcore.ConnectionConnected {
				t.Errorf("accepted stream in state %v", s.State())
			}
			states = append(states, s.ConnectionState())
			echo(s)
		})
		defer d.Sockets().ReleaseRef(lst)
		ccfg := p.clientConfig(v)
		ccfg.NextProtos = []string{"x-echo"}
		peer := goResult(func() error {
			c, err := tls.Dial("tcp", addr, ccfg)
			if err != nil {
				return err
			}
			defer c.Close()
			if cs := c.ConnectionState(); cs.Version != v || cs.NegotiatedProtocol != "x-echo" {
				return fmt.Errorf("client sees version %x, ALPN %q", cs.Version, cs.NegotiatedProtocol)
			}
			return exchange(c, testMessages())
		})
		if err := waitPeer(t, d, peer); err != nil {
			t.Fatal(err)
		}
		if handshakeErr != nil {
			t.Fatal(handshakeErr)
		}
		if len(states) != 1 || states[0].Version != v || states[0].NegotiatedProtocol != "x-echo" || states[0].ServerName != "localhost" {
			t.Fatalf("server's states: %+v", states)
		}
	})
}

// stdServer runs a crypto/tls server on loopback that serves each
// connection with serve; its errors are reported by the returned
// function once closed.
type stdServer struct {
	ln   net.Listener
	addr eventcore.Addr
	wg   sync.WaitGroup
	mu   sync.Mutex
	errs []error
}

func startStdServer(t testing.TB, cfg *tls.Config, serve func(c *tls.Conn) error) *stdServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sv := &stdServer{ln: ln}
	sv.addr, _ = eventcore.AddrFromNet(ln.Addr())
	sv.wg.Add(1)
	go func() {
		defer sv.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			sv.wg.Add(1)
			go func() {
				defer sv.wg.Done()
				tc := tls.Server(c, cfg)
				err := serve(tc)
				tc.Close()
				if err != nil {
					sv.mu.Lock()
					sv.errs = append(sv.errs, err)
					sv.mu.Unlock()
				}
			}()
		}
	}()
	t.Cleanup(sv.close)
	return sv
}

func (sv *stdServer) close() {
	sv.ln.Close()
	sv.wg.Wait()
}

func (sv *stdServer) errors() []error {
	sv.close()
	sv.mu.Lock()
	defer sv.mu.Unlock()
	return sv.errs
}

// stdEcho is crypto/tls's side of an echo: it copies until close_notify,
// then sends its own.
func stdEcho(c *tls.Conn) error {
	if err := c.Handshake(); err != nil {
		return err
	}
	if _, err := io.Copy(c, c); err != nil {
		return err
	}
	return c.CloseWrite()
}

// clientExchange is our client's side of exchange, on the loop: it writes
// each message, reads it back, shuts down writing and waits for the
// server's close_notify; shook, if not nil, sees the stream once the
// handshake has succeeded. It returns a function that reports when it has
// ended, and how.
func clientExchange(s *Stream, msgs [][]byte, shook func(s *Stream)) func() (bool, error) {
	ended := false
	var res error
	finish := func(err error) {
		ended, res = true, err
		s.Close()
	}
	var step func(i int)
	step = func(i int) {
		if i == len(msgs) {
			if err := s.Shutdown(false, true); err != nil {
				finish(err)
				return
			}
			if s.State() != eventcore.ConnectionActiveClose {
				finish(fmt.Errorf("after Shutdown: state %v", s.State()))
				return
			}
			s.Read(make([]byte, 1), eventcore.IOModeOnce, func(s *Stream, st eventcore.IOStatus, n int) {
				if st != eventcore.IOStatusDisconnected || s.State() != eventcore.ConnectionClosed {
					finish(fmt.Errorf("after close_notify: %v, %d bytes, state %v, %v", st, n, s.State(), s.LastError()))
					return
				}
				finish(nil)
			})
			return
		}
		m := msgs[i]
		s.Write(m, eventcore.IOModeAll, func(s *Stream, st eventcore.IOStatus, n int) {
			if st != eventcore.IOStatusOK || n != len(m) {
				finish(fmt.Errorf("write %d: %v, %d bytes, %v", i, st, n, s.LastError()))
			}
		})
		got := make([]byte, len(m))
		s.Read(got, eventcore.IOModeAll, func(s *Stream, st eventcore.IOStatus, n int) {
			switch {
			case st != eventcore.IOStatusOK:
				finish(fmt.Errorf("read %d: %v, %d bytes, %v", i, st, n, s.LastError()))
			case !bytes.Equal(got, m):
				finish(fmt.Errorf("echo %d differs", i))
			default:
				step(i + 1)
			}
		})
	}
	s.Handshake(func(s *Stream, err error) {
		if err != nil {
			finish(err)
			return
		}
		if shook != nil {
			shook(s)
		}
		step(0)
	})
	return func() (bool, error) { return ended, res }
}

func TestClientInteropStdServer(t *testing.T) {
	p := certs(t)
	forEachVersion(t, Config{}, func(t *testing.T, d *eventcore.Driver, l *Layer, v uint16) {
		scfg := p.serverConfig(v)
		scfg.NextProtos = []string{"x-echo"}
		sv := startStdServer(t, scfg, stdEcho)
		ccfg := p.clientConfig(v)
		ccfg.NextProtos = []string{"h2", "x-echo"}
		var cs tls.ConnectionState
		ended := clientExchange(l.Dial(sv.addr, ccfg, nil), testMessages(), func(s *Stream) { cs = s.ConnectionState() })
		if err := waitPeer(t, d, ended); err != nil {
			t.Fatal(err)
		}
		if cs.Version != v || cs.NegotiatedProtocol != "x-echo" || !cs.HandshakeComplete || len(cs.PeerCertificates) != 1 {
			t.Fatalf("client's state: version %x, ALPN %q, complete %v, %d certificates", cs.Version, cs.NegotiatedProtocol, cs.HandshakeComplete, len(cs.PeerCertificates))
		}
		if errs := sv.errors(); len(errs) > 0 {
			t.Fatal(errs)
		}
	})
}

// Both ends ours, on one loop: the two handshakes run on the pool at once.
func TestOurClientOurServer(t *testing.T) {
	p := certs(t)
	forEachVersion(t, Config{}, func(t *testing.T, d *eventcore.Driver, l *Layer, v uint16) {
		lst, addr := listenLoop(t, d, l, p.serverConfig(v), func(s *Stream, err error) {
			if err != nil {
				t.Errorf("server: %v", err)
				return
			}
			echo(s)
		})
		defer d.Sockets().ReleaseRef(lst)
		s := l.Dial(eventcore.MustParseAddr(addr), p.clientConfig(v), nil)
		if err := waitPeer(t, d, clientExchange(s, testMessages(), nil)); err != nil {
			t.Fatal(err)
		}
	})
}

func TestResumption(t *testing.T) {
	p := certs(t)
	forEachVersion(t, Config{}, func(t *testing.T, d *eventcore.Driver, l *Layer, v uint16) {
		subtest(t, d, "OurServer", func(t *testing.T) {
			var resumed []bool
			lst, addr := listenLoop(t, d, l, p.serverConfig(v), func(s *Stream, err error) {
				if err != nil {
					t.Errorf("server: %v", err)
					return
				}
				resumed = append(resumed, s.ConnectionState().DidResume)
				echo(s)
			})
			defer d.Sockets().ReleaseRef(lst)
			ccfg := p.clientConfig(v)
			ccfg.ClientSessionCache = tls.NewLRUClientSessionCache(4)
			for i := range 2 {
				peer := goResult(func() error {
					c, err := tls.Dial("tcp", addr, ccfg)
					if err != nil {
						return err
					}
					defer c.Close()
					if err := exchange(c, [][]byte{[]byte("x")}); err != nil {
						return err
					}
					if got := c.ConnectionState().DidResume; got != (i == 1) {
						return fmt.Errorf("connection %d: client's DidResume %v", i, got)
					}
					return nil
				})
				if err := waitPeer(t, d, peer); err != nil {
					t.Fatal(err)
				}
			}
			runUntil(t, d, "both accepted", func() bool { return len(resumed) == 2 })
			if resumed[0] || !resumed[1] {
				t.Fatalf("server's DidResume: %v", resumed)
			}
		})
		subtest(t, d, "OurClient", func(t *testing.T) {
			sv := startStdServer(t, p.serverConfig(v), stdEcho)
			ccfg := p.clientConfig(v)
			ccfg.ClientSessionCache = tls.NewLRUClientSessionCache(4)
			for i := range 2 {
				var didResume bool
				ended := clientExchange(l.Dial(sv.addr, ccfg, nil), [][]byte{[]byte("x")}, func(s *Stream) { didResume = s.ConnectionState().DidResume })
				if err := waitPeer(t, d, ended); err != nil {
					t.Fatal(err)
				}
				if didResume != (i == 1) {
					t.Fatalf("connection %d: DidResume %v", i, didResume)
				}
			}
			if errs := sv.errors(); len(errs) > 0 {
				t.Fatal(errs)
			}
		})
	})
}

func TestClientCertificates(t *testing.T) {
	p := certs(t)
	forEachVersion(t, Config{}, func(t *testing.T, d *eventcore.Driver, l *Layer, v uint16) {
		scfg := p.serverConfig(v)
		scfg.ClientAuth = tls.RequireAndVerifyClientCert
		scfg.ClientCAs = p.pool
		subtest(t, d, "OurServer", func(t *testing.T) {
			var peers []int
			var errs []error
			lst, addr := listenLoop(t, d, l, scfg, func(s *Stream, err error) {
				if err != nil {
					errs = append(errs, err)
					return
				}
				peers = append(peers, len(s.ConnectionState().PeerCertificates))
				echo(s)
			})
			defer d.Sockets().ReleaseRef(lst)
			with := p.clientConfig(v)
			with.Certificates = []tls.Certificate{p.client}
			peer := goResult(func() error {
				c, err := tls.Dial("tcp", addr, with)
				if err != nil {
					return err
				}
				defer c.Close()
				return exchange(c, [][]byte{[]byte("signed")})
			})
			if err := waitPeer(t, d, peer); err != nil {
				t.Fatal(err)
			}
			// Without a certificate: refused. TLS 1.3's client learns it at
			// its first read.
			peer = goResult(func() error {
				c, err := tls.Dial("tcp", addr, p.clientConfig(v))
				if err != nil {
					return err
				}
				defer c.Close()
				_, err = c.Read(make([]byte, 1))
				return err
			})
			if err := waitPeer(t, d, peer); err == nil {
				t.Fatal("a client without a certificate was served")
			}
			runUntil(t, d, "the refusal", func() bool { return len(errs) == 1 })
			if len(peers) != 1 || peers[0] != 1 {
				t.Fatalf("peer certificates seen: %v", peers)
			}
		})
		subtest(t, d, "OurClient", func(t *testing.T) {
			sv := startStdServer(t, scfg, stdEcho)
			ccfg := p.clientConfig(v)
			ccfg.Certificates = []tls.Certificate{p.client}
			if err := waitPeer(t, d, clientExchange(l.Dial(sv.addr, ccfg, nil), [][]byte{[]byte("signed")}, nil)); err != nil {
				t.Fatal(err)
			}
			if errs := sv.errors(); len(errs) > 0 {
				t.Fatal(errs)
			}
		})
	})
}

// Our client verifies by default: an expired certificate and one for
// another host are refused with crypto/tls's error.
func TestClientRefusesBadCertificates(t *testing.T) {
	p := certs(t)
	for _, bad := range []struct {
		name string
		cert tls.Certificate
	}{{"Expired", p.expired}, {"WrongHost", p.other}} {
		t.Run(bad.name, func(t *testing.T) {
			forEachDriver(t, Config{}, func(t *testing.T, d *eventcore.Driver, l *Layer) {
				sv := startStdServer(t, &tls.Config{Certificates: []tls.Certificate{bad.cert}}, stdEcho)
				var got error
				ended := false
				s := l.Dial(sv.addr, &tls.Config{RootCAs: p.pool, ServerName: "localhost"}, func(s *Stream, err error) { got, ended = err, true })
				runUntil(t, d, "the handshake's end", func() bool { return ended })
				var verr *tls.CertificateVerificationError
				if !errors.As(got, &verr) {
					t.Fatalf("handshake error %v (%T), want a *tls.CertificateVerificationError", got, got)
				}
				if s.State() != eventcore.ConnectionClosed || s.LastError() != got {
					t.Fatalf("after a refused certificate: state %v, LastError %v", s.State(), s.LastError())
				}
				s.Close()
				sv.errors() // the server sees the alert
			})
		})
	}
}

// SNI: the server picks its configuration by the name the client asks
// for, and crypto/tls's callbacks see the connection's addresses.
func TestSNI(t *testing.T) {
	p := certs(t)
	forEachDriver(t, Config{}, func(t *testing.T, d *eventcore.Driver, l *Layer) {
		var asked []string
		var remote string
		cfg := &tls.Config{GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
			asked = append(asked, h.ServerName)
			remote = h.Conn.RemoteAddr().String()
			if h.ServerName == "other.example" {
				return &tls.Config{Certificates: []tls.Certificate{p.other}}, nil
			}
			return &tls.Config{GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &p.server, nil }}, nil
		}}
		lst, addr := listenLoop(t, d, l, cfg, func(s *Stream, err error) {
			if err != nil {
				t.Errorf("server: %v", err)
				return
			}
			echo(s)
		})
		defer d.Sockets().ReleaseRef(lst)
		for _, name := range []string{"other.example", "localhost"} {
			peer := goResult(func() error {
				c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: p.pool, ServerName: name})
				if err != nil {
					return err
				}
				defer c.Close()
				return exchange(c, [][]byte{[]byte(name)})
			})
			if err := waitPeer(t, d, peer); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
		}
		if len(asked) != 2 || asked[0] != "other.example" || asked[1] != "localhost" {
			t.Fatalf("names asked: %q", asked)
		}
		if _, err := eventcore.ParseAddr(remote); err != nil {
			t.Fatalf("ClientHelloInfo.Conn.RemoteAddr: %q", remote)
		}
	})
}

// More handshakes than handshakers: they wait in the queue, and no more
// goroutines than the bound run them.
func TestHandshakePoolBound(t *testing.T) {
	p := certs(t)
	forEachDriver(t, Config{Handshakers: 2}, func(t *testing.T, d *eventcore.Driver, l *Layer) {
		const clients = 6
		served := 0
		lst, addr := listenLoop(t, d, l, p.serverConfig(tls.VersionTLS13), func(s *Stream, err error) {
			if err != nil {
				t.Errorf("server: %v", err)
				return
			}
			served++
			echo(s)
		})
		defer d.Sockets().ReleaseRef(lst)
		var peers []func() (bool, error)
		for range clients {
			peers = append(peers, goResult(func() error {
				c, err := tls.Dial("tcp", addr, p.clientConfig(tls.VersionTLS13))
				if err != nil {
					return err
				}
				defer c.Close()
				return exchange(c, [][]byte{[]byte("q")})
			}))
		}
		peak := 0
		runUntil(t, d, "every client", func() bool {
			l.pool.mu.Lock()
			peak = max(peak, l.pool.running)
			l.pool.mu.Unlock()
			for _, p := range peers {
				if ok, _ := p(); !ok {
					return false
				}
			}
			return true
		})
		for _, p := range peers {
			if _, err := p(); err != nil {
				t.Fatal(err)
			}
		}
		if served != clients || peak > 2 {
			t.Fatalf("served %d of %d, %d handshakers at most", served, clients, peak)
		}
	})
}

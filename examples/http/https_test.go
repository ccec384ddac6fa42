package main

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"testing"
	"time"
)

// startHTTPS starts an HTTPS server with a self-signed certificate and
// returns it with a client configuration that trusts it.
func startHTTPS(t *testing.T, lim limits) (*testServer, *tls.Config) {
	t.Helper()
	cert, err := selfSignedCert()
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	ts := startServerTLS(t, lim, &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"http/1.1"}})
	return ts, &tls.Config{RootCAs: pool, ServerName: "localhost", NextProtos: []string{"http/1.1"}}
}

func dialTLS(t *testing.T, addr string, cfg *tls.Config) *tls.Conn {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 20 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(20 * time.Second)) // only keeps a broken test from hanging
	t.Cleanup(func() { c.Close() })
	return c
}

// HTTPS serves as HTTP does: keep-alive, pipelined requests in one write
// and split across writes, a body skipped, and the connection's end.
func TestHTTPSKeepAliveAndPipelining(t *testing.T) {
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(tls.VersionName(v), func(t *testing.T) {
			ts, cfg := startHTTPS(t, defaultLimits)
			cfg.MinVersion, cfg.MaxVersion = v, v
			c := dialTLS(t, ts.addr, cfg)
			if p := c.ConnectionState().NegotiatedProtocol; p != "http/1.1" {
				t.Fatalf("ALPN: %q", p)
			}
			r := bufio.NewReader(c)
			io.WriteString(c, "GET /plaintext HTTP/1.1\r\nHost: a\r\n\r\n")
			expect(t, r, "first response", 200, hello, false)
			io.WriteString(c, "GET / HTTP/1.1\r\nHost: a\r\n\r\nHEAD / HTTP/1.1\r\nHost: a\r\n\r\nPOST /plaintext HTTP/1.1\r\nHo")
			io.WriteString(c, "st: a\r\nContent-Length: 4\r\n\r\nab")
			io.WriteString(c, "cdGET /missing HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
			want := []struct {
				method string
				code   int
				body   string
			}{{"GET", 200, hello}, {"HEAD", 200, ""}, {"POST", 405, ""}, {"GET", 404, ""}, {"GET", 200, hello}}
			for i, w := range want {
				resp, body := readResponse(t, r, w.method)
				if resp.StatusCode != w.code || body != w.body || resp.Close != (i == len(want)-1) {
					t.Errorf("pipelined response %d: %d %q close %v, want %d %q", i, resp.StatusCode, body, resp.Close, w.code, w.body)
				}
			}
			// The server closes with close_notify: a clean end of stream.
			if rest, err := io.ReadAll(r); err != nil || len(rest) > 0 {
				t.Fatalf("after the last response: %q, %v", rest, err)
			}
			ts.waitFor(t, "the connection's end", func(sv *server) bool { return len(sv.conns) == 0 })
		})
	}
}

// A client that speaks plain HTTP to the HTTPS server is closed, and the
// server goes on serving.
func TestHTTPSRefusesPlainHTTP(t *testing.T) {
	ts, cfg := startHTTPS(t, defaultLimits)
	plain := dial(t, ts.addr)
	io.WriteString(plain, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	if _, err := io.ReadAll(plain); err != nil {
		t.Logf("plain client: %v", err) // a reset is as good as an end of stream
	}
	c := dialTLS(t, ts.addr, cfg)
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	expect(t, bufio.NewReader(c), "after a plain client", 200, hello, false)
	c.Close()
	ts.waitFor(t, "the connections' end", func(sv *server) bool { return len(sv.conns) == 0 })
}

// A client that stops in the handshake is closed at the header timeout.
func TestHTTPSHandshakeTimeout(t *testing.T) {
	lim := defaultLimits
	lim.header = 50 * time.Millisecond
	ts, _ := startHTTPS(t, lim)
	c := dial(t, ts.addr)
	c.Write([]byte{22, 3, 1, 1, 0}) // a ClientHello's record header, no more
	if _, err := io.ReadAll(c); err != nil {
		t.Logf("stalled client: %v", err)
	}
	ts.waitFor(t, "the connection's end", func(sv *server) bool { return len(sv.conns) == 0 })
}

package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/eventcore-go/eventcore"
	"github.com/eventcore-go/eventcore/group"
)

// testServer is a server on a group of one loop, running until the test
// ends.
type testServer struct {
	addr    string
	g       *group.Group
	servers []*server
}

func startServer(t testing.TB, lim limits) *testServer {
	t.Helper()
	return startServerTLS(t, lim, nil)
}

// startServerTLS starts a server, of HTTPS if tlsCfg is not nil.
func startServerTLS(t testing.TB, lim limits, tlsCfg *tls.Config) *testServer {
	t.Helper()
	g, servers, addr, err := serve(eventcore.MustParseAddr("127.0.0.1:0"), lim, 1, tlsCfg, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := g.Shutdown(ctx); err != nil {
			t.Error(err)
		}
	})
	return &testServer{addr: addr.String(), g: g, servers: servers}
}

// onLoop runs fn on the server's loop and waits for it to return.
func (ts *testServer) onLoop(fn func(sv *server)) {
	done := make(chan struct{})
	ts.g.Loop(0).Run(func() { fn(ts.servers[0]); close(done) })
	<-done
}

// waitFor waits until cond, run on the server's loop, holds.
func (ts *testServer) waitFor(t *testing.T, what string, cond func(sv *server) bool) {
	t.Helper()
	for start := time.Now(); ; time.Sleep(5 * time.Millisecond) {
		ok := false
		ts.onLoop(func(sv *server) { ok = cond(sv) })
		if ok {
			return
		}
		if time.Since(start) > 20*time.Second {
			t.Fatalf("still waiting for %s", what)
		}
	}
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(20 * time.Second)) // only keeps a broken test from hanging
	t.Cleanup(func() { c.Close() })
	return c
}

func readResponse(t *testing.T, r *bufio.Reader, method string) (*http.Response, string) {
	t.Helper()
	resp, err := http.ReadResponse(r, &http.Request{Method: method})
	if err != nil {
		t.Fatalf("reading a response: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading a body: %v", err)
	}
	return resp, string(body)
}

func TestServerKeepAliveAndPipelining(t *testing.T) {
	addr := startServer(t, defaultLimits).addr
	c := dial(t, addr)
	r := bufio.NewReader(c)
	// One request, then three pipelined in one write, one of them split
	// across two writes, with a body to skip.
	io.WriteString(c, "GET /plaintext HTTP/1.1\r\nHost: a\r\n\r\n")
	if resp, body := readResponse(t, r, "GET"); resp.StatusCode != 200 || body != hello {
		t.Fatalf("first response: %d %q", resp.StatusCode, body)
	}
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: a\r\n\r\nHEAD / HTTP/1.1\r\nHost: a\r\n\r\nPOST /plaintext HTTP/1.1\r\nHo")
	time.Sleep(20 * time.Millisecond)
	io.WriteString(c, "st: a\r\nContent-Length: 4\r\n\r\nab")
	time.Sleep(20 * time.Millisecond)
	io.WriteString(c, "cdGET /missing HTTP/1.1\r\nHost: a\r\n\r\n")
	want := []struct {
		method string
		code   int
		body   string
	}{{"GET", 200, hello}, {"HEAD", 200, ""}, {"POST", 405, ""}, {"GET", 404, ""}}
	for i, w := range want {
		resp, body := readResponse(t, r, w.method)
		if resp.StatusCode != w.code || body != w.body {
			t.Errorf("pipelined response %d: %d %q, want %d %q", i, resp.StatusCode, body, w.code, w.body)
		}
		if resp.Close {
			t.Errorf("pipelined response %d closes the connection", i)
		}
	}
}

// expect reads one response from r and checks its status, body and
// whether it announces that the connection closes.
func expect(t *testing.T, r *bufio.Reader, what string, code int, body string, closing bool) {
	t.Helper()
	resp, got := readResponse(t, r, "GET")
	if resp.StatusCode != code || got != body || resp.Close != closing {
		t.Fatalf("%s: %d %q close %v, want %d %q close %v", what, resp.StatusCode, got, resp.Close, code, body, closing)
	}
}

// Malformed requests (issue 7): each gets 400 Bad Request and its
// connection is closed, and the server goes on serving: a keep-alive
// connection opened before, one with a request half sent meanwhile, and
// new connections.
func TestServerMalformed(t *testing.T) {
	addr := startServer(t, defaultLimits).addr
	const get = "GET / HTTP/1.1\r\nHost: a\r\n\r\n"
	keep := dial(t, addr)
	keepR := bufio.NewReader(keep)
	io.WriteString(keep, get)
	expect(t, keepR, "keep-alive connection, before", 200, hello, false)
	half := dial(t, addr)
	io.WriteString(half, "GET /plaintext HTTP/1.1\r\nHo")

	bad := []struct {
		name  string
		parts []string // written one at a time
		good  int      // well-formed requests ahead of the bad one
	}{
		{"junk line", []string{"BAD\r\n\r\n"}, 0},
		{"binary", []string{"\x00\x01\x02\xff\xfe \x80 HTTP/1.1\r\n\r\n"}, 0},
		{"missing host", []string{"GET / HTTP/1.1\r\n\r\n"}, 0},
		{"space before colon", []string{"GET / HTTP/1.1\r\nHost : a\r\n\r\n"}, 0},
		{"bad version", []string{"GET / HTTP/9.9\r\nHost: a\r\n\r\n"}, 0},
		{"control in target", []string{"GET /\x01 HTTP/1.1\r\nHost: a\r\n\r\n"}, 0},
		{"bad length", []string{"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n"}, 0},
		{"length and chunked", []string{"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\nx"}, 0},
		{"split across writes", []string{"GET / HTTP/1.1\r\nHo", "st: a\r\nX: \x01\r\n", "\r\n"}, 0},
		{"after good ones in a pipeline", []string{get + get + "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"}, 2},
	}
	for _, b := range bad {
		c := dial(t, addr)
		for i, p := range b.parts {
			if i > 0 {
				time.Sleep(10 * time.Millisecond) // a separate read on the server
			}
			io.WriteString(c, p)
		}
		r := bufio.NewReader(c)
		for i := range b.good {
			expect(t, r, fmt.Sprintf("%s: request %d", b.name, i), 200, hello, false)
		}
		expect(t, r, b.name, 400, "", true)
		if _, err := r.ReadByte(); err != io.EOF {
			t.Errorf("%s: connection not closed after 400: %v", b.name, err)
		}
		io.WriteString(keep, get)
		expect(t, keepR, "keep-alive connection after "+b.name, 200, hello, false)
	}

	io.WriteString(half, "st: a\r\n\r\n")
	expect(t, bufio.NewReader(half), "the request half sent before", 200, hello, false)
	fresh := dial(t, addr)
	io.WriteString(fresh, get)
	expect(t, bufio.NewReader(fresh), "a new connection", 200, hello, false)
}

func TestServerClose(t *testing.T) {
	addr := startServer(t, defaultLimits).addr
	for _, in := range []string{"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", "GET / HTTP/1.0\r\n\r\n"} {
		c := dial(t, addr)
		io.WriteString(c, in)
		r := bufio.NewReader(c)
		resp, body := readResponse(t, r, "GET")
		if resp.StatusCode != 200 || body != hello || !resp.Close {
			t.Errorf("%q: %d %q close %v", strings.TrimSpace(in), resp.StatusCode, body, resp.Close)
		}
		if _, err := r.ReadByte(); err != io.EOF {
			t.Errorf("%q: connection not closed: %v", strings.TrimSpace(in), err)
		}
	}
}

// A client that sends a large pipeline and reads nothing until it is done
// sending makes the server keep what the socket cannot take.
func TestServerBackpressure(t *testing.T) {
	addr := startServer(t, defaultLimits).addr
	c := dial(t, addr)
	const n = 20000
	go func() {
		req := strings.Repeat("GET / HTTP/1.1\r\nHost: a\r\n\r\n", n)
		io.WriteString(c, req)
	}()
	r := bufio.NewReader(c)
	for i := range n {
		if resp, body := readResponse(t, r, "GET"); resp.StatusCode != 200 || body != hello {
			t.Fatalf("response %d: %d %q", i, resp.StatusCode, body)
		}
	}
}

// closedByServer reads from c until the server closes it, and fails the
// test if c's deadline (set by dial) comes first.
func closedByServer(t *testing.T, c net.Conn, what string) {
	t.Helper()
	_, err := io.Copy(io.Discard, c)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("%s: not closed by the server", what)
	}
}

// A client that sends nothing but empty lines (issue 10, defect 16): they
// are consumed as they arrive, so the connection holds no buffer for them,
// and past the head limit the client gets 400 and a closed connection,
// however much it sends. A request after empty lines within the limit is
// served.
func TestServerEmptyLines(t *testing.T) {
	ts := startServer(t, defaultLimits)
	const get = "GET / HTTP/1.1\r\nHost: a\r\n\r\n"
	c := dial(t, ts.addr)
	const parts, part = 10, 800 // 8000 bytes of empty lines: within the limit with the head
	for i := range parts {
		io.WriteString(c, strings.Repeat("\r\n", part/2))
		ts.waitFor(t, "the empty lines to be read", func(sv *server) bool {
			for _, sc := range sv.conns {
				if sc.scan.blank >= (i+1)*part {
					return true
				}
			}
			return false
		})
		ts.onLoop(func(sv *server) {
			for _, sc := range sv.conns {
				if cap(sc.in) != 0 {
					t.Errorf("after %d bytes of empty lines the connection keeps a buffer of %d", (i+1)*part, cap(sc.in))
				}
			}
		})
	}
	io.WriteString(c, get)
	r := bufio.NewReader(c)
	expect(t, r, "a request after empty lines within the limit", 200, hello, false)

	// The flood: 20 MiB of empty lines, written until the server closes.
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	flood := dial(t, ts.addr)
	sent := make(chan int64, 1)
	go func() {
		chunk := []byte(strings.Repeat("\r\n", 32<<10))
		var n int64
		for n < 20<<20 {
			k, err := flood.Write(chunk)
			n += int64(k)
			if err != nil {
				break
			}
		}
		sent <- n
	}()
	fr := bufio.NewReader(flood)
	expect(t, fr, "a flood of empty lines", 400, "", true)
	closedByServer(t, flood, "a flood of empty lines")
	n := <-sent
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 4<<20 {
		t.Errorf("%d bytes allocated while the client sent %d bytes of empty lines", grew, n)
	}
	io.WriteString(c, get)
	expect(t, r, "the other connection, after the flood", 200, hello, false)
}

// Slowloris (issue 10, defect 16): connections that send half a head, or
// nothing, or only empty lines, and stop, or that send a head a byte at a
// time, are closed once the header timeout has passed; another connection
// is served meanwhile.
func TestServerHeaderTimeout(t *testing.T) {
	lim := defaultLimits
	lim.header = time.Second
	ts := startServer(t, lim)
	slow := map[string]string{"half a head": "GET / HTTP/1.1\r\nHo", "nothing": "", "empty lines": "\r\n\r\n"}
	conns := map[string]net.Conn{}
	for what, sent := range slow {
		conns[what] = dial(t, ts.addr)
		io.WriteString(conns[what], sent)
	}
	// One that keeps sending a byte of its head now and then: the head must
	// still arrive in full within the timeout.
	drip := dial(t, ts.addr)
	go func() {
		if _, err := io.WriteString(drip, "GET / HTTP/1.1\r\nHost: a\r\nX: "); err != nil {
			return
		}
		for range 400 { // 20 s at most
			time.Sleep(50 * time.Millisecond)
			if _, err := io.WriteString(drip, "x"); err != nil {
				return
			}
		}
	}()
	conns["a head sent a byte at a time"] = drip
	k := dial(t, ts.addr)
	io.WriteString(k, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	expect(t, bufio.NewReader(k), "another connection", 200, hello, false)
	for what, c := range conns {
		closedByServer(t, c, what)
	}
}

// A kept-alive connection that sends no next request is closed once the
// idle timeout has passed; a new connection is served after.
func TestServerIdleTimeout(t *testing.T) {
	lim := defaultLimits
	lim.idle = 300 * time.Millisecond
	ts := startServer(t, lim)
	const get = "GET / HTTP/1.1\r\nHost: a\r\n\r\n"
	c := dial(t, ts.addr)
	io.WriteString(c, get)
	r := bufio.NewReader(c)
	expect(t, r, "the request before idling", 200, hello, false)
	if _, err := r.ReadByte(); errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatal("the idle connection was not closed")
	}
	fresh := dial(t, ts.addr)
	io.WriteString(fresh, get)
	expect(t, bufio.NewReader(fresh), "a new connection", 200, hello, false)
}

// A client that sends requests and never reads the responses is closed
// once they have waited the write timeout; another connection is served
// while that one's responses wait. (How the close reaches the client
// differs: Linux resets a connection closed with data unread, Windows
// sends what it holds and then the end of the stream.)
func TestServerWriteTimeout(t *testing.T) {
	lim := defaultLimits
	lim.write = 300 * time.Millisecond
	ts := startServer(t, lim)
	const get = "GET / HTTP/1.1\r\nHost: a\r\n\r\n"
	k := dial(t, ts.addr)
	kr := bufio.NewReader(k)
	io.WriteString(k, get)
	expect(t, kr, "another connection, before", 200, hello, false)

	w := dial(t, ts.addr)
	w.(*net.TCPConn).SetReadBuffer(16 << 10)
	go func() {
		chunk := []byte(strings.Repeat(get, (64<<10)/len(get)))
		for n := 0; n < 1<<30; n += len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}()
	var blocked eventcore.StreamSocket
	ts.waitFor(t, "responses the client does not take", func(sv *server) bool {
		for sock, c := range sv.conns {
			if c.out != nil {
				blocked = sock
				return true
			}
		}
		return false
	})
	io.WriteString(k, get)
	expect(t, kr, "another connection, meanwhile", 200, hello, false)
	ts.waitFor(t, "the client that does not read to be closed", func(sv *server) bool { return sv.conns[blocked] == nil })
	closedByServer(t, w, "the client that does not read")
	io.WriteString(k, get)
	expect(t, kr, "another connection, after", 200, hello, false)
}

// Connections past -max-conns are closed as they arrive; the ones within
// are served, and once one closes a new one is served again.
func TestServerMaxConns(t *testing.T) {
	lim := defaultLimits
	lim.maxConns = 2
	ts := startServer(t, lim)
	const get = "GET / HTTP/1.1\r\nHost: a\r\n\r\n"
	var in [2]net.Conn
	var rs [2]*bufio.Reader
	for i := range in {
		in[i] = dial(t, ts.addr)
		rs[i] = bufio.NewReader(in[i])
		io.WriteString(in[i], get)
		expect(t, rs[i], fmt.Sprintf("connection %d", i), 200, hello, false)
	}
	over := dial(t, ts.addr)
	closedByServer(t, over, "a connection past the limit")
	io.WriteString(in[0], get)
	expect(t, rs[0], "a connection within the limit, after", 200, hello, false)
	in[1].Close()
	ts.waitFor(t, "the closed connection to be dropped", func(sv *server) bool { return len(sv.conns) == 1 })
	fresh := dial(t, ts.addr)
	io.WriteString(fresh, get)
	expect(t, bufio.NewReader(fresh), "a new connection once one closed", 200, hello, false)
}

// BenchmarkServerPipelined measures the server as the benchmarks use it:
// one connection, 16 pipelined requests per round trip.
func BenchmarkServerPipelined(b *testing.B) {
	addr := startServer(b, defaultLimits).addr
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	const depth = 16
	batch := []byte(strings.Repeat("GET /plaintext HTTP/1.1\r\nHost: a\r\n\r\n", depth))
	buf := make([]byte, 64<<10)
	c.Write(batch[:len(batch)/depth])
	one, err := c.Read(buf) // a response's length: the Date header has a fixed width
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += depth {
		c.Write(batch)
		if _, err := io.ReadFull(c, buf[:one*depth]); err != nil {
			b.Fatal(err)
		}
	}
}

// On several loops, kept-alive connections are served, and a shutdown
// closes the idle ones at once and returns no error.
func TestServerLoopsShutdown(t *testing.T) {
	g, _, addr, err := serve(eventcore.MustParseAddr("127.0.0.1:0"), defaultLimits, 3, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	for range 6 {
		c, err := net.Dial("tcp", addr.String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(20 * time.Second)) // only keeps a broken test from hanging
		r := bufio.NewReader(c)
		for range 2 {
			io.WriteString(c, "GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n")
			resp, err := http.ReadResponse(r, nil)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 200 || string(body) != hello {
				t.Fatalf("%d %q", resp.StatusCode, body)
			}
		}
		conns = append(conns, c)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := g.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	for i, c := range conns {
		if _, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
			t.Errorf("connection %d after the shutdown: %v", i, err)
		}
	}
}

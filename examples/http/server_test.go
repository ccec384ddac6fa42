package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/eventcore-go/eventcore"
)

// startServer runs the server on its own loop until the test ends.
func startServer(t *testing.T) string {
	t.Helper()
	addrc := make(chan string, 1)
	done := make(chan struct{})
	var core eventcore.Core
	go func() {
		defer close(done)
		d, err := eventcore.New()
		if err != nil {
			t.Error(err)
			addrc <- ""
			return
		}
		sv, err := newServer(d, eventcore.MustParseAddr("127.0.0.1:0"))
		if err != nil {
			t.Error(err)
			addrc <- ""
			return
		}
		core = d.Core()
		addrc <- sv.addr().String()
		for d.Core().ProcessEvents(eventcore.Infinite) != eventcore.ExitExited {
		}
		sv.close()
		d.Dispose()
	}()
	addr := <-addrc
	if addr == "" {
		t.FailNow()
	}
	t.Cleanup(func() { core.Exit(); <-done })
	return addr
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
	addr := startServer(t)
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

func TestServerMalformed(t *testing.T) {
	addr := startServer(t)
	for _, in := range []string{"BAD\r\n\r\n", "GET / HTTP/1.1\r\n\r\n", "GET / HTTP/1.1\r\nHost : a\r\n\r\n"} {
		c := dial(t, addr)
		io.WriteString(c, in)
		r := bufio.NewReader(c)
		resp, _ := readResponse(t, r, "GET")
		if resp.StatusCode != 400 || !resp.Close {
			t.Errorf("%q: status %d close %v, want 400 and close", in, resp.StatusCode, resp.Close)
		}
		if _, err := r.ReadByte(); err != io.EOF {
			t.Errorf("%q: connection not closed after 400: %v", in, err)
		}
	}
}

func TestServerClose(t *testing.T) {
	addr := startServer(t)
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
	addr := startServer(t)
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

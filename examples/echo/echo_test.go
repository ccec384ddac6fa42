package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/eventcore-go/eventcore"
	"github.com/eventcore-go/eventcore/group"
)

// testServer is an echo server on two loops, running until the test ends.
type testServer struct {
	addr string
	sv   *server
}

func startServer(t *testing.T, idle time.Duration, maxConns int) *testServer {
	t.Helper()
	sv, err := newServer(eventcore.MustParseAddr("127.0.0.1:0"), group.Default, 2, idle, maxConns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := sv.shutdown(); err != nil {
			t.Error(err)
		}
	})
	return &testServer{addr: sv.addr.String(), sv: sv}
}

// waitFor waits until cond holds.
func (ts *testServer) waitFor(t *testing.T, what string, cond func(sv *server) bool) {
	t.Helper()
	for start := time.Now(); !cond(ts.sv); time.Sleep(5 * time.Millisecond) {
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

func echo(t *testing.T, c net.Conn, what string) {
	t.Helper()
	const msg = "hello"
	got := make([]byte, len(msg))
	if _, err := io.WriteString(c, msg); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if _, err := io.ReadFull(c, got); err != nil || string(got) != msg {
		t.Fatalf("%s: echo %q, %v", what, got, err)
	}
}

// closedByServer reads from c until the server closes it, and fails the
// test if c's deadline (set by dial) comes first.
func closedByServer(t *testing.T, c net.Conn, what string) {
	t.Helper()
	if _, err := io.Copy(io.Discard, c); errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("%s: not closed by the server", what)
	}
}

// Connections that send nothing (issue 10, defect 16), or nothing more,
// are closed once idle for the timeout; others are served meanwhile and
// after.
func TestEchoIdleTimeout(t *testing.T) {
	addr := startServer(t, time.Second, 100).addr
	silent := dial(t, addr)
	once := dial(t, addr)
	echo(t, once, "a connection before idling")
	echo(t, dial(t, addr), "another connection, meanwhile")
	closedByServer(t, silent, "a connection that sends nothing")
	closedByServer(t, once, "a connection that sends nothing more")
	echo(t, dial(t, addr), "a new connection, after")
}

// A client that sends without reading the echo is closed once nothing has
// moved for the timeout. (How the close reaches the client differs: Linux
// resets a connection closed with data unread, Windows sends what it holds
// and then the end of the stream.)
func TestEchoClientThatDoesNotRead(t *testing.T) {
	ts := startServer(t, time.Second, 100)
	c := dial(t, ts.addr)
	c.(*net.TCPConn).SetReadBuffer(16 << 10)
	go func() {
		chunk := []byte(strings.Repeat("x", 64<<10))
		for n := 0; n < 1<<30; n += len(chunk) {
			if _, err := c.Write(chunk); err != nil {
				return
			}
		}
	}()
	ts.waitFor(t, "the connection to be served", func(sv *server) bool { return sv.open.Load() == 1 })
	ts.waitFor(t, "the client that does not read to be closed", func(sv *server) bool { return sv.open.Load() == 0 })
	closedByServer(t, c, "the client that does not read")
	echo(t, dial(t, ts.addr), "a new connection, after")
}

// Connections past -max-conns are closed as they arrive.
func TestEchoMaxConns(t *testing.T) {
	addr := startServer(t, time.Minute, 2).addr
	a, b := dial(t, addr), dial(t, addr)
	echo(t, a, "connection 1")
	echo(t, b, "connection 2")
	closedByServer(t, dial(t, addr), "a connection past the limit")
	echo(t, a, "connection 1, after")
}

// A shutdown closes the connections still open, on every loop, and
// returns no error.
func TestEchoShutdown(t *testing.T) {
	sv, err := newServer(eventcore.MustParseAddr("127.0.0.1:0"), group.LeastConnections, 2, time.Minute, 100)
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	for i := range 4 {
		c := dial(t, sv.addr.String())
		echo(t, c, fmt.Sprintf("connection %d", i))
		conns = append(conns, c)
	}
	if err := sv.shutdown(); err != nil {
		t.Fatal(err)
	}
	for i, c := range conns {
		closedByServer(t, c, fmt.Sprintf("connection %d", i))
	}
}

// A large stream, sent while the echo is read back slowly, so that the
// server's writes stop short and it keeps what the peer has not taken:
// every byte comes back, in order.
func TestEchoLargeStream(t *testing.T) {
	addr := startServer(t, time.Minute, 100).addr
	c := dial(t, addr)
	c.(*net.TCPConn).SetReadBuffer(16 << 10)
	msg := make([]byte, 8<<20)
	for i := range msg {
		msg[i] = byte(i*7 + i>>11)
	}
	sent := make(chan error, 1)
	go func() {
		_, err := c.Write(msg)
		sent <- err
	}()
	got := make([]byte, len(msg))
	for off := 0; off < len(got); {
		n, err := c.Read(got[off:min(off+4096, len(got))])
		if err != nil {
			t.Fatalf("after %d bytes: %v", off, err)
		}
		off += n
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	if string(got) != string(msg) {
		t.Fatal("the echo differs from what was sent")
	}
}

package main

import (
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/eventcore-go/eventcore"
)

// startServer runs an echo server on its own loop until the test ends.
func startServer(t *testing.T, idle time.Duration, maxConns int) string {
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
		sv, err := newServer(d, eventcore.MustParseAddr("127.0.0.1:0"), idle, maxConns)
		if err != nil {
			t.Error(err)
			d.Dispose()
			addrc <- ""
			return
		}
		a, _ := sv.s.LocalAddress(sv.lst)
		core = d.Core()
		addrc <- a.String()
		for d.Core().ProcessEvents(eventcore.Infinite) != eventcore.ExitExited {
		}
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
	addr := startServer(t, time.Second, 100)
	silent := dial(t, addr)
	once := dial(t, addr)
	echo(t, once, "a connection before idling")
	echo(t, dial(t, addr), "another connection, meanwhile")
	closedByServer(t, silent, "a connection that sends nothing")
	closedByServer(t, once, "a connection that sends nothing more")
	echo(t, dial(t, addr), "a new connection, after")
}

// A client that sends without reading the echo is closed once nothing has
// moved for the timeout.
func TestEchoClientThatDoesNotRead(t *testing.T) {
	addr := startServer(t, time.Second, 100)
	c := dial(t, addr)
	c.(*net.TCPConn).SetReadBuffer(16 << 10)
	chunk := []byte(strings.Repeat("x", 64<<10))
	var err error
	for n := 0; n < 1<<30 && err == nil; n += len(chunk) {
		_, err = c.Write(chunk)
	}
	if err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the client that does not read was not closed: %v", err)
	}
	echo(t, dial(t, addr), "a new connection, after")
}

// Connections past -max-conns are closed as they arrive.
func TestEchoMaxConns(t *testing.T) {
	addr := startServer(t, time.Minute, 2)
	a, b := dial(t, addr), dial(t, addr)
	echo(t, a, "connection 1")
	echo(t, b, "connection 2")
	closedByServer(t, dial(t, addr), "a connection past the limit")
	echo(t, a, "connection 1, after")
}

// Command echo is a TCP echo server on one eventcore loop, and a client for
// it.
//
//	go run ./examples/echo                       # server on 127.0.0.1:7007
//	go run ./examples/echo -client hello world   # sends "hello world", prints the echo
//
// The server runs until interrupted (Ctrl-C or SIGTERM), then closes every
// connection and reports any handle left open.
//
// A connection costs bounded memory (a 4 KiB buffer) and bounded time: one
// that neither sends nor takes data for -idle-timeout (default 60s) is
// closed, whether it sends nothing or sends without reading the echo, and
// connections beyond -max-conns (default 10000) are closed as they arrive.
// Each connection has a timer of its own, moved on at every read and write
// that completes: re-arming a timer allocates nothing.
package main

import (
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/eventcore-go/eventcore"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:7007", "address to listen on, or to connect to with -client")
	client := flag.Bool("client", false, "send the arguments (or \"hello\") to the server and print the echo")
	idle := flag.Duration("idle-timeout", 60*time.Second, "close a connection that neither sends nor takes data for this long")
	maxConns := flag.Int("max-conns", 10000, "connections served at once; more are closed as they arrive")
	flag.Parse()
	a, err := eventcore.ParseAddr(*addr)
	if err != nil {
		log.Fatalf("bad -addr: %v", err)
	}
	d, err := eventcore.New()
	if err != nil {
		log.Fatal(err)
	}
	if *client {
		msg := strings.Join(flag.Args(), " ")
		if msg == "" {
			msg = "hello"
		}
		os.Exit(runClient(d, a, msg))
	}
	runServer(d, a, *idle, *maxConns)
}

// conn is the state of one connection, kept as the socket's user data.
type conn struct {
	buf   [4096]byte
	timer eventcore.TimerID // closes the connection once idle; its user data is the socket
}

// server is the echo server; it runs on the loop's goroutine.
type server struct {
	d        *eventcore.Driver
	s        eventcore.Sockets
	tm       eventcore.Timers
	lst      eventcore.StreamListener
	idle     time.Duration
	maxConns int
	open     int // connections being served

	onRead, onWritten eventcore.IOCallback
	onIdle            eventcore.TimerCallback
}

func newServer(d *eventcore.Driver, a eventcore.Addr, idle time.Duration, maxConns int) (*server, error) {
	if idle <= 0 || maxConns <= 0 {
		return nil, errors.New("-idle-timeout and -max-conns must be positive")
	}
	sv := &server{d: d, s: d.Sockets(), tm: d.Timers(), idle: idle, maxConns: maxConns}
	sv.onRead, sv.onWritten, sv.onIdle = sv.read, sv.written, sv.idled
	lst, err := sv.s.ListenStream(a, eventcore.ListenDefaults, sv.accept)
	if err != nil {
		return nil, fmt.Errorf("listen on %v: %w", a, err)
	}
	sv.lst = lst
	return sv, nil
}

func (sv *server) accept(_ eventcore.StreamListener, sock eventcore.StreamSocket, _ eventcore.Addr) {
	if sv.open >= sv.maxConns {
		sv.s.ReleaseRef(sock)
		return
	}
	sv.open++
	c := eventcore.UserData[conn](sv.d, sock)
	c.timer = sv.tm.Create()
	*eventcore.UserData[eventcore.StreamSocket](sv.d, c.timer) = sock
	sv.tm.Set(c.timer, sv.idle, 0)
	sv.tm.Wait(c.timer, sv.onIdle)
	sv.s.Read(sock, c.buf[:], eventcore.IOModeOnce, sv.onRead)
}

func (sv *server) read(sock eventcore.StreamSocket, st eventcore.IOStatus, n int) {
	c := eventcore.UserData[conn](sv.d, sock)
	if st != eventcore.IOStatusOK {
		sv.close(sock, c) // the peer closed, or the connection failed
		return
	}
	sv.tm.Set(c.timer, sv.idle, 0)
	sv.s.Write(sock, c.buf[:n], eventcore.IOModeAll, sv.onWritten)
}

func (sv *server) written(sock eventcore.StreamSocket, st eventcore.IOStatus, _ int) {
	c := eventcore.UserData[conn](sv.d, sock)
	if st != eventcore.IOStatusOK {
		sv.close(sock, c)
		return
	}
	sv.tm.Set(c.timer, sv.idle, 0)
	sv.s.Read(sock, c.buf[:], eventcore.IOModeOnce, sv.onRead)
}

// idled: the connection has been idle for sv.idle.
func (sv *server) idled(t eventcore.TimerID, fired bool) {
	if fired {
		sock := *eventcore.UserData[eventcore.StreamSocket](sv.d, t)
		sv.close(sock, eventcore.UserData[conn](sv.d, sock))
	}
}

// close closes the connection and frees its timer.
func (sv *server) close(sock eventcore.StreamSocket, c *conn) {
	sv.open--
	sv.tm.CancelWait(c.timer)
	sv.tm.ReleaseRef(c.timer)
	sv.s.ReleaseRef(sock)
}

func runServer(d *eventcore.Driver, a eventcore.Addr, idle time.Duration, maxConns int) {
	sv, err := newServer(d, a, idle, maxConns)
	if err != nil {
		log.Fatal(err)
	}
	local, _ := sv.s.LocalAddress(sv.lst)
	fmt.Printf("echo server listening on %v (%s driver); stop it with Ctrl-C\n", local, d.Name())

	stop := func(id eventcore.SignalID, _ eventcore.SignalStatus, sig os.Signal) {
		fmt.Printf("\n%v: shutting down\n", sig)
		d.Core().Exit()
	}
	for _, sig := range []os.Signal{os.Interrupt, syscall.SIGTERM} {
		if _, err := d.Signals().Listen(sig, stop); err != nil {
			log.Fatal(err)
		}
	}
	for d.Core().ProcessEvents(eventcore.Infinite) != eventcore.ExitExited {
	}
	d.Dispose()
	fmt.Printf("closed %d open connection(s)\n", sv.open)
}

func runClient(d *eventcore.Driver, a eventcore.Addr, msg string) int {
	defer d.Dispose()
	s := d.Sockets()
	reply := make([]byte, len(msg))
	code := 1
	sock := s.ConnectStream(a, eventcore.Addr{}, func(sock eventcore.StreamSocket, st eventcore.ConnectStatus) {
		if st != eventcore.ConnectStatusConnected {
			fmt.Fprintf(os.Stderr, "connect to %v: %v (%v)\n", a, st, d.LastError(sock))
			return
		}
		s.Write(sock, []byte(msg), eventcore.IOModeAll, func(sock eventcore.StreamSocket, st eventcore.IOStatus, _ int) {
			if st != eventcore.IOStatusOK {
				fmt.Fprintf(os.Stderr, "write: %v (%v)\n", st, d.LastError(sock))
				return
			}
			s.Read(sock, reply, eventcore.IOModeAll, func(sock eventcore.StreamSocket, st eventcore.IOStatus, n int) {
				if st != eventcore.IOStatusOK {
					fmt.Fprintf(os.Stderr, "read: %v after %d bytes (%v)\n", st, n, d.LastError(sock))
					return
				}
				fmt.Println(string(reply[:n]))
				code = 0
			})
		})
	})
	defer s.ReleaseRef(sock)
	for d.Core().ProcessEvents(eventcore.Infinite) != eventcore.ExitOutOfWaiters {
	}
	return code
}

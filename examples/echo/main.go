// Command echo is a TCP echo server on a group of eventcore loops, one per
// CPU by default, and a client for it.
//
//	go run ./examples/echo                       # server on 127.0.0.1:7007
//	go run ./examples/echo -loops 1              # on one loop
//	go run ./examples/echo -client hello world   # sends "hello world", prints the echo
//
// The server runs until interrupted (Ctrl-C or SIGTERM), then shuts down
// gracefully: it stops accepting, closes every connection, and reports any
// handle left open.
//
// A connection costs bounded memory and bounded time. It holds no buffer
// while it waits: it reads with ReadLoaned, into a buffer its loop lends
// for the length of the callback, and writes the data back at once; only
// what the peer has not taken yet is copied, at most one read's worth, and
// reading waits until it is written. A connection
// that neither sends nor takes data for -idle-timeout (default 60s) is
// closed, whether it sends nothing or sends without reading the echo, and
// connections beyond -max-conns (default 10000, over all loops) are closed
// as they arrive. Each connection has a timer of its own, moved on at
// every read and write that completes: re-arming a timer allocates
// nothing. Each loop keeps the state of its own connections; the loops
// share only the count of connections open.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/eventcore-go/eventcore"
	"github.com/eventcore-go/eventcore/group"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:7007", "address to listen on, or to connect to with -client")
	client := flag.Bool("client", false, "send the arguments (or \"hello\") to the server and print the echo")
	idle := flag.Duration("idle-timeout", 60*time.Second, "close a connection that neither sends nor takes data for this long")
	maxConns := flag.Int("max-conns", 10000, "connections served at once, over all loops; more are closed as they arrive")
	loops := flag.Int("loops", runtime.GOMAXPROCS(0), "event loops serving the address")
	strategy := flag.String("strategy", "default", "how connections are spread over the loops: default, reuseport, least-connections or round-robin")
	flag.Parse()
	a, err := eventcore.ParseAddr(*addr)
	if err != nil {
		log.Fatalf("bad -addr: %v", err)
	}
	if *client {
		d, err := eventcore.New()
		if err != nil {
			log.Fatal(err)
		}
		msg := strings.Join(flag.Args(), " ")
		if msg == "" {
			msg = "hello"
		}
		os.Exit(runClient(d, a, msg))
	}
	st, err := parseStrategy(*strategy)
	if err != nil {
		log.Fatal(err)
	}
	runServer(a, st, *loops, *idle, *maxConns)
}

func parseStrategy(name string) (group.Strategy, error) {
	for _, s := range []group.Strategy{group.Default, group.ReusePort, group.LeastConnections, group.RoundRobin} {
		if s.String() == name {
			return s, nil
		}
	}
	return 0, fmt.Errorf("unknown -strategy %q", name)
}

// conn is the state of one connection, kept as the socket's user data.
type conn struct {
	pending []byte            // what the peer has not taken yet, while it is written
	timer   eventcore.TimerID // closes the connection once idle; its user data is the socket
}

// server is the echo server: a group of loops, each with its loopServer.
type server struct {
	g        *group.Group
	addr     eventcore.Addr
	loops    []*loopServer
	idle     time.Duration
	maxConns int64
	open     atomic.Int64 // connections being served, over all loops
}

// loopServer serves the connections of one loop, on its goroutine.
type loopServer struct {
	sv    *server
	l     *group.Loop
	d     *eventcore.Driver
	s     eventcore.Sockets
	tm    eventcore.Timers
	conns map[eventcore.StreamSocket]struct{}
	data  []byte // the loan being echoed, while its write runs

	onData             eventcore.LoanCallback
	onWrote, onFlushed eventcore.IOCallback
	onIdle             eventcore.TimerCallback
}

func newServer(a eventcore.Addr, st group.Strategy, loops int, idle time.Duration, maxConns int) (*server, error) {
	if idle <= 0 || maxConns <= 0 || loops <= 0 {
		return nil, errors.New("-idle-timeout, -max-conns and -loops must be positive")
	}
	sv := &server{loops: make([]*loopServer, loops), idle: idle, maxConns: int64(maxConns)}
	g, err := group.New(group.WithLoops(loops), group.WithSetup(func(l *group.Loop) error {
		d := l.Driver()
		ls := &loopServer{sv: sv, l: l, d: d, s: d.Sockets(), tm: d.Timers(), conns: map[eventcore.StreamSocket]struct{}{}}
		ls.onData, ls.onWrote, ls.onFlushed, ls.onIdle = ls.read, ls.wrote, ls.flushed, ls.idled
		sv.loops[l.Index()] = ls
		l.OnShutdown(func(time.Time) { ls.closeAll() })
		return nil
	}))
	if err != nil {
		return nil, err
	}
	sv.g = g
	sv.addr, err = g.ServeStream(a, st, func(l *group.Loop, sock eventcore.StreamSocket, _ eventcore.Addr) {
		sv.loops[l.Index()].accept(sock)
	})
	if err != nil {
		g.Shutdown(context.Background())
		return nil, fmt.Errorf("listen on %v: %w", a, err)
	}
	return sv, nil
}

// shutdown stops the server, closing the connections still open, and
// reports what the loops left open.
func (sv *server) shutdown() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return sv.g.Shutdown(ctx)
}

func (ls *loopServer) accept(sock eventcore.StreamSocket) {
	if ls.sv.open.Add(1) > ls.sv.maxConns {
		ls.sv.open.Add(-1)
		ls.l.Release(sock)
		return
	}
	ls.conns[sock] = struct{}{}
	c := eventcore.UserData[conn](ls.d, sock)
	c.timer = ls.tm.Create()
	*eventcore.UserData[eventcore.StreamSocket](ls.d, c.timer) = sock
	ls.tm.Set(c.timer, ls.sv.idle, 0)
	ls.tm.Wait(c.timer, ls.onIdle)
	ls.s.ReadLoaned(sock, ls.onData)
}

func (ls *loopServer) read(sock eventcore.StreamSocket, st eventcore.IOStatus, data []byte) {
	if st != eventcore.IOStatusOK {
		ls.close(sock, eventcore.UserData[conn](ls.d, sock)) // the peer closed, or the connection failed
		return
	}
	ls.tm.Set(eventcore.UserData[conn](ls.d, sock).timer, ls.sv.idle, 0)
	ls.data = data
	ls.s.Write(sock, data, eventcore.IOModeImmediate, ls.onWrote)
	ls.data = nil
}

// wrote runs before the IOModeImmediate Write returns, while the loan is
// still lent: what the socket did not take is copied before it ends.
func (ls *loopServer) wrote(sock eventcore.StreamSocket, st eventcore.IOStatus, n int) {
	c := eventcore.UserData[conn](ls.d, sock)
	switch {
	case st != eventcore.IOStatusOK && st != eventcore.IOStatusWouldBlock:
		ls.close(sock, c)
	case n < len(ls.data):
		c.pending = append([]byte(nil), ls.data[n:]...)
		ls.s.Write(sock, c.pending, eventcore.IOModeAll, ls.onFlushed)
	default:
		ls.s.ReadLoaned(sock, ls.onData)
	}
}

func (ls *loopServer) flushed(sock eventcore.StreamSocket, st eventcore.IOStatus, _ int) {
	c := eventcore.UserData[conn](ls.d, sock)
	if st != eventcore.IOStatusOK {
		ls.close(sock, c)
		return
	}
	c.pending = nil
	ls.tm.Set(c.timer, ls.sv.idle, 0)
	ls.s.ReadLoaned(sock, ls.onData)
}

// idled: the connection has been idle for the timeout.
func (ls *loopServer) idled(t eventcore.TimerID, fired bool) {
	if fired {
		sock := *eventcore.UserData[eventcore.StreamSocket](ls.d, t)
		ls.close(sock, eventcore.UserData[conn](ls.d, sock))
	}
}

// close closes the connection and frees its timer.
func (ls *loopServer) close(sock eventcore.StreamSocket, c *conn) {
	ls.sv.open.Add(-1)
	delete(ls.conns, sock)
	ls.tm.CancelWait(c.timer)
	ls.tm.ReleaseRef(c.timer)
	ls.l.Release(sock)
}

// closeAll closes every connection of the loop: the server is shutting
// down.
func (ls *loopServer) closeAll() {
	for sock := range ls.conns {
		ls.close(sock, eventcore.UserData[conn](ls.d, sock))
	}
}

func runServer(a eventcore.Addr, st group.Strategy, loops int, idle time.Duration, maxConns int) {
	sv, err := newServer(a, st, loops, idle, maxConns)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("echo server listening on %v (%d loops, %v); stop it with Ctrl-C\n", sv.addr, loops, st)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	<-ctx.Done()
	stop()
	open := sv.open.Load()
	fmt.Printf("\nshutting down: closing %d open connection(s)\n", open)
	if err := sv.shutdown(); err != nil {
		log.Fatal(err)
	}
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

// Command echo is a TCP echo server on one eventcore loop, and a client for
// it.
//
//	go run ./examples/echo                       # server on 127.0.0.1:7007
//	go run ./examples/echo -client hello world   # sends "hello world", prints the echo
//
// The server runs until interrupted (Ctrl-C or SIGTERM), then closes every
// connection and reports any handle left open.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"strings"
	"syscall"

	"github.com/eventcore-go/eventcore"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:7007", "address to listen on, or to connect to with -client")
	client := flag.Bool("client", false, "send the arguments (or \"hello\") to the server and print the echo")
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
	runServer(d, a)
}

// conn is the state of one connection, kept as the socket's user data.
type conn struct{ buf [4096]byte }

func runServer(d *eventcore.Driver, a eventcore.Addr) {
	s := d.Sockets()
	var onRead, onWritten eventcore.IOCallback
	onRead = func(sock eventcore.StreamSocket, st eventcore.IOStatus, n int) {
		if st != eventcore.IOStatusOK {
			s.ReleaseRef(sock) // the peer closed, or the connection failed
			return
		}
		c := eventcore.UserData[conn](d, sock)
		s.Write(sock, c.buf[:n], eventcore.IOModeAll, onWritten)
	}
	onWritten = func(sock eventcore.StreamSocket, st eventcore.IOStatus, _ int) {
		if st != eventcore.IOStatusOK {
			s.ReleaseRef(sock)
			return
		}
		s.Read(sock, eventcore.UserData[conn](d, sock).buf[:], eventcore.IOModeOnce, onRead)
	}
	lst, err := s.ListenStream(a, eventcore.ListenDefaults,
		func(_ eventcore.StreamListener, sock eventcore.StreamSocket, remote eventcore.Addr) {
			s.Read(sock, eventcore.UserData[conn](d, sock).buf[:], eventcore.IOModeOnce, onRead)
		})
	if err != nil {
		log.Fatalf("listen on %v: %v", a, err)
	}
	local, _ := s.LocalAddress(lst)
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
	open := 0
	for _, h := range d.OpenHandles() {
		if h.Kind == "StreamSocket" {
			open++
		}
	}
	d.Dispose()
	fmt.Printf("closed %d open connection(s)\n", open)
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

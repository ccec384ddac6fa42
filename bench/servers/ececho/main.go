// Command ececho is the echo server on eventcore that the benchmark
// measures. It keeps no buffer for a connection that waits for data: it
// reads with ReadLoaned, into a buffer the loop lends, and writes back at
// once; only bytes the socket did not take are copied into a buffer of the
// connection's own, until they are written.
//
// With -loops 1 (what GOMAXPROCS=1 gives by default) it runs one loop on
// the main goroutine, as a single-loop server is written. With more, it
// runs them in a group, each serving the connections the group hands it
// (on Linux, from a SO_REUSEPORT listener of its own) with a server of its
// own.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"runtime"

	"github.com/eventcore-go/eventcore"
	"github.com/eventcore-go/eventcore/group"
)

// server serves the connections of one loop.
type server struct {
	s       eventcore.Sockets
	release func(eventcore.StreamSocket) // ends a connection
	data    []byte                       // the loan being echoed, while the write of it runs

	// pending holds what the socket did not take, only while it waits.
	pending map[eventcore.StreamSocket][]byte

	onData             eventcore.LoanCallback
	onWrote, onFlushed eventcore.IOCallback
}

func newServer(d *eventcore.Driver, release func(eventcore.StreamSocket)) *server {
	sv := &server{s: d.Sockets(), release: release, pending: map[eventcore.StreamSocket][]byte{}}
	sv.onData, sv.onWrote, sv.onFlushed = sv.read, sv.wrote, sv.flushed
	return sv
}

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on")
	loops := flag.Int("loops", runtime.GOMAXPROCS(0), "event loops")
	flag.Parse()
	a, err := eventcore.ParseAddr(*addr)
	if err != nil {
		log.Fatal(err)
	}
	if *loops <= 1 {
		serveOne(a)
		return
	}
	servers := make([]*server, *loops)
	var driver string
	g, err := group.New(group.WithLoops(*loops), group.WithSetup(func(l *group.Loop) error {
		servers[l.Index()] = newServer(l.Driver(), func(sock eventcore.StreamSocket) { l.Release(sock) })
		if l.Index() == 0 {
			driver = l.Driver().Name()
		}
		return nil
	}))
	if err != nil {
		log.Fatal(err)
	}
	local, err := g.ServeStream(a, group.Default, func(l *group.Loop, sock eventcore.StreamSocket, _ eventcore.Addr) {
		sv := servers[l.Index()]
		sv.s.ReadLoaned(sock, sv.onData)
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("listening on %v (eventcore %s driver, %d loops)\n", local, driver, g.Len())
	os.Stdout.Sync()
	select {} // until killed
}

// serveOne serves a on one loop, run by the main goroutine.
func serveOne(a eventcore.Addr) {
	d, err := eventcore.New()
	if err != nil {
		log.Fatal(err)
	}
	sv := newServer(d, func(sock eventcore.StreamSocket) { d.Sockets().ReleaseRef(sock) })
	lst, err := sv.s.ListenStream(a, eventcore.ListenDefaults, func(_ eventcore.StreamListener, sock eventcore.StreamSocket, _ eventcore.Addr) {
		sv.s.ReadLoaned(sock, sv.onData)
	})
	if err != nil {
		log.Fatal(err)
	}
	local, _ := sv.s.LocalAddress(lst)
	fmt.Printf("listening on %v (eventcore %s driver, 1 loop)\n", local, d.Name())
	os.Stdout.Sync()
	for d.Core().ProcessEvents(eventcore.Infinite) != eventcore.ExitExited {
	}
}

func (sv *server) drop(sock eventcore.StreamSocket) {
	delete(sv.pending, sock)
	sv.release(sock)
}

func (sv *server) read(sock eventcore.StreamSocket, st eventcore.IOStatus, data []byte) {
	if st != eventcore.IOStatusOK {
		sv.drop(sock)
		return
	}
	sv.data = data
	sv.s.Write(sock, data, eventcore.IOModeImmediate, sv.onWrote)
	sv.data = nil
}

// wrote runs before the IOModeImmediate Write returns, while the loan is
// still lent.
func (sv *server) wrote(sock eventcore.StreamSocket, st eventcore.IOStatus, n int) {
	switch {
	case st != eventcore.IOStatusOK && st != eventcore.IOStatusWouldBlock:
		sv.drop(sock)
	case n < len(sv.data):
		rest := append([]byte(nil), sv.data[n:]...)
		sv.pending[sock] = rest
		sv.s.Write(sock, rest, eventcore.IOModeAll, sv.onFlushed)
	default:
		sv.s.ReadLoaned(sock, sv.onData)
	}
}

func (sv *server) flushed(sock eventcore.StreamSocket, st eventcore.IOStatus, _ int) {
	delete(sv.pending, sock)
	if st != eventcore.IOStatusOK {
		sv.drop(sock)
		return
	}
	sv.s.ReadLoaned(sock, sv.onData)
}

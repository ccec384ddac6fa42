// Command ececho is the echo server on eventcore that the benchmark
// measures. It keeps no buffer for a connection that waits for data: it
// reads with ReadLoaned, into a buffer the loop lends, and writes back a
// copy from a free list of the server's, returned when the write completes.
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

	// pending holds the copy of a connection's message while it is
	// written; free holds the copies not in use.
	pending map[eventcore.StreamSocket][]byte
	free    [][]byte

	onData  eventcore.LoanCallback
	onWrote eventcore.IOCallback
}

func newServer(d *eventcore.Driver, release func(eventcore.StreamSocket)) *server {
	sv := &server{s: d.Sockets(), release: release, pending: map[eventcore.StreamSocket][]byte{}}
	sv.onData, sv.onWrote = sv.read, sv.wrote
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
	if buf, ok := sv.pending[sock]; ok {
		delete(sv.pending, sock)
		sv.free = append(sv.free, buf)
	}
	sv.release(sock)
}

// read echoes what the loan holds. It copies it into a buffer of the
// server's, which the write keeps until it completes (at once where the
// socket has room, or after the loop's next wait where the driver hands
// writes to the kernel, io_uring), and reads again then.
func (sv *server) read(sock eventcore.StreamSocket, st eventcore.IOStatus, data []byte) {
	if st != eventcore.IOStatusOK {
		sv.drop(sock)
		return
	}
	var buf []byte
	if n := len(sv.free); n > 0 {
		buf, sv.free = sv.free[n-1], sv.free[:n-1]
	}
	buf = append(buf[:0], data...) // grows a copy too small for it
	sv.pending[sock] = buf
	sv.s.Write(sock, buf, eventcore.IOModeAll, sv.onWrote)
}

func (sv *server) wrote(sock eventcore.StreamSocket, st eventcore.IOStatus, _ int) {
	if st != eventcore.IOStatusOK {
		sv.drop(sock)
		return
	}
	sv.free = append(sv.free, sv.pending[sock])
	delete(sv.pending, sock)
	sv.s.ReadLoaned(sock, sv.onData)
}

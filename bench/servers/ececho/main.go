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
	onData  eventcore.LoanCallback
	free    []*echoWrite // writes not in use
}

// echoWrite is one echo being written: the copy of a connection's message,
// which the write keeps until it completes, and the callback that learns
// which write completed from its receiver, as libuv's write requests do.
type echoWrite struct {
	sv    *server
	buf   []byte
	wrote eventcore.IOCallback
}

func newServer(d *eventcore.Driver, release func(eventcore.StreamSocket)) *server {
	sv := &server{s: d.Sockets(), release: release}
	sv.onData = sv.read
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

// read echoes what the loan holds. It copies it into a write of the
// server's, which keeps it until the write completes (at once where the
// socket has room, or after the loop's next wait where the driver hands
// writes to the kernel, io_uring), and reads again then. A connection
// that waits for data holds neither a loan nor a write.
func (sv *server) read(sock eventcore.StreamSocket, st eventcore.IOStatus, data []byte) {
	if st != eventcore.IOStatusOK {
		sv.release(sock)
		return
	}
	var w *echoWrite
	if n := len(sv.free); n > 0 {
		w, sv.free = sv.free[n-1], sv.free[:n-1]
	} else {
		w = &echoWrite{sv: sv}
		w.wrote = w.done
	}
	w.buf = append(w.buf[:0], data...) // grows a copy too small for it
	sv.s.Write(sock, w.buf, eventcore.IOModeAll, w.wrote)
}

func (w *echoWrite) done(sock eventcore.StreamSocket, st eventcore.IOStatus, _ int) {
	sv := w.sv
	sv.free = append(sv.free, w)
	if st != eventcore.IOStatusOK {
		sv.release(sock)
		return
	}
	sv.s.ReadLoaned(sock, sv.onData)
}

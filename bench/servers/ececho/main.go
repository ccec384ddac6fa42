// Command ececho is the echo server on eventcore that the benchmark
// measures. It keeps no buffer for a connection that waits for data: it
// waits with WaitForData, reads into one buffer the whole loop shares, and
// writes back at once; only bytes the socket did not take are copied into a
// buffer of the connection's own, until they are written.
//
// It runs -loops loops (default GOMAXPROCS) in a group, each serving the
// connections the group hands it (on Linux, from a SO_REUSEPORT listener
// of its own) with a server of its own.
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
	l   *group.Loop
	s   eventcore.Sockets
	buf []byte // shared by every connection: a read's callback consumes it
	n   int    // bytes in buf that the current write sends

	// pending holds what the socket did not take, only while it waits.
	pending map[eventcore.StreamSocket][]byte

	onData, onRead, onWrote, onFlushed eventcore.IOCallback
}

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on")
	loops := flag.Int("loops", runtime.GOMAXPROCS(0), "event loops")
	flag.Parse()
	a, err := eventcore.ParseAddr(*addr)
	if err != nil {
		log.Fatal(err)
	}
	servers := make([]*server, *loops)
	var driver string
	g, err := group.New(group.WithLoops(*loops), group.WithSetup(func(l *group.Loop) error {
		d := l.Driver()
		sv := &server{l: l, s: d.Sockets(), buf: make([]byte, 64<<10), pending: map[eventcore.StreamSocket][]byte{}}
		sv.onData, sv.onRead, sv.onWrote, sv.onFlushed = sv.data, sv.read, sv.wrote, sv.flushed
		servers[l.Index()] = sv
		if l.Index() == 0 {
			driver = d.Name()
		}
		return nil
	}))
	if err != nil {
		log.Fatal(err)
	}
	local, err := g.ServeStream(a, group.Default, func(l *group.Loop, sock eventcore.StreamSocket, _ eventcore.Addr) {
		sv := servers[l.Index()]
		sv.s.WaitForData(sock, sv.onData)
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("listening on %v (eventcore %s driver, %d loops)\n", local, driver, g.Len())
	os.Stdout.Sync()
	select {} // until killed
}

func (sv *server) drop(sock eventcore.StreamSocket) {
	delete(sv.pending, sock)
	sv.l.Release(sock)
}

func (sv *server) data(sock eventcore.StreamSocket, st eventcore.IOStatus, _ int) {
	if st != eventcore.IOStatusOK {
		sv.drop(sock)
		return
	}
	sv.s.Read(sock, sv.buf, eventcore.IOModeImmediate, sv.onRead)
}

func (sv *server) read(sock eventcore.StreamSocket, st eventcore.IOStatus, n int) {
	switch st {
	case eventcore.IOStatusOK:
		sv.n = n
		sv.s.Write(sock, sv.buf[:n], eventcore.IOModeImmediate, sv.onWrote)
	case eventcore.IOStatusWouldBlock:
		sv.s.WaitForData(sock, sv.onData)
	default:
		sv.drop(sock)
	}
}

// wrote runs before the IOModeImmediate Write returns, while buf still
// holds what was read.
func (sv *server) wrote(sock eventcore.StreamSocket, st eventcore.IOStatus, n int) {
	switch {
	case st != eventcore.IOStatusOK && st != eventcore.IOStatusWouldBlock:
		sv.drop(sock)
	case n < sv.n:
		rest := append([]byte(nil), sv.buf[n:sv.n]...)
		sv.pending[sock] = rest
		sv.s.Write(sock, rest, eventcore.IOModeAll, sv.onFlushed)
	default:
		sv.s.WaitForData(sock, sv.onData)
	}
}

func (sv *server) flushed(sock eventcore.StreamSocket, st eventcore.IOStatus, _ int) {
	delete(sv.pending, sock)
	if st != eventcore.IOStatusOK {
		sv.drop(sock)
		return
	}
	sv.s.WaitForData(sock, sv.onData)
}

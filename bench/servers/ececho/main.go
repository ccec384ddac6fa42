// Command ececho is the echo server on eventcore that the benchmark
// measures. It keeps no buffer for a connection that waits for data: it
// waits with WaitForData, reads into one buffer the whole loop shares, and
// writes back at once; only bytes the socket did not take are copied into a
// buffer of the connection's own, until they are written.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"

	"github.com/eventcore-go/eventcore"
)

type server struct {
	d   *eventcore.Driver
	s   eventcore.Sockets
	buf []byte // shared by every connection: a read's callback consumes it
	n   int    // bytes in buf that the current write sends

	// pending holds what the socket did not take, only while it waits.
	pending map[eventcore.StreamSocket][]byte

	onData, onRead, onWrote, onFlushed eventcore.IOCallback
}

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on")
	flag.Parse()
	a, err := eventcore.ParseAddr(*addr)
	if err != nil {
		log.Fatal(err)
	}
	d, err := eventcore.New()
	if err != nil {
		log.Fatal(err)
	}
	sv := &server{d: d, s: d.Sockets(), buf: make([]byte, 64<<10), pending: map[eventcore.StreamSocket][]byte{}}
	sv.onData, sv.onRead, sv.onWrote, sv.onFlushed = sv.data, sv.read, sv.wrote, sv.flushed
	lst, err := sv.s.ListenStream(a, eventcore.ListenDefaults, func(_ eventcore.StreamListener, sock eventcore.StreamSocket, _ eventcore.Addr) {
		sv.s.WaitForData(sock, sv.onData)
	})
	if err != nil {
		log.Fatal(err)
	}
	local, _ := sv.s.LocalAddress(lst)
	fmt.Printf("listening on %v (eventcore %s driver)\n", local, d.Name())
	os.Stdout.Sync()
	for d.Core().ProcessEvents(eventcore.Infinite) != eventcore.ExitExited {
	}
}

func (sv *server) drop(sock eventcore.StreamSocket) {
	delete(sv.pending, sock)
	sv.s.ReleaseRef(sock)
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

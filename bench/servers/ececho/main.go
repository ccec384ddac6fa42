// Command ececho is the echo server on eventcore that the benchmark
// measures. It keeps no buffer for a connection that waits for data: it
// reads with ReadLoaned, into a buffer the loop lends, and writes back at
// once; only bytes the socket did not take are copied into a buffer of the
// connection's own, until they are written.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"

	"github.com/eventcore-go/eventcore"
)

type server struct {
	d    *eventcore.Driver
	s    eventcore.Sockets
	data []byte // the loan being echoed, while the write of it runs

	// pending holds what the socket did not take, only while it waits.
	pending map[eventcore.StreamSocket][]byte

	onData             eventcore.LoanCallback
	onWrote, onFlushed eventcore.IOCallback
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
	sv := &server{d: d, s: d.Sockets(), pending: map[eventcore.StreamSocket][]byte{}}
	sv.onData, sv.onWrote, sv.onFlushed = sv.read, sv.wrote, sv.flushed
	lst, err := sv.s.ListenStream(a, eventcore.ListenDefaults, func(_ eventcore.StreamListener, sock eventcore.StreamSocket, _ eventcore.Addr) {
		sv.s.ReadLoaned(sock, sv.onData)
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

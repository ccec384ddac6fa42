package group_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"time"

	"github.com/eventcore-go/eventcore"
	"github.com/eventcore-go/eventcore/group"
)

// An echo server on every core. The client closes its connection before
// the shutdown, so that the shutdown finds none open and returns nil;
// connections still open would be left to OnShutdown functions, then
// closed at the context's deadline.
func Example() {
	g, err := group.New() // one loop per core
	if err != nil {
		log.Fatal(err)
	}
	addr, err := g.ServeStream(eventcore.MustParseAddr("127.0.0.1:0"), group.Default,
		func(l *group.Loop, conn eventcore.StreamSocket, _ eventcore.Addr) {
			s := l.Driver().Sockets()
			buf := make([]byte, 4096)
			var onRead eventcore.IOCallback
			onRead = func(conn eventcore.StreamSocket, st eventcore.IOStatus, n int) {
				if st != eventcore.IOStatusOK {
					l.Release(conn) // counts the connection closed
					return
				}
				s.Write(conn, buf[:n], eventcore.IOModeAll, func(conn eventcore.StreamSocket, st eventcore.IOStatus, _ int) {
					s.Read(conn, buf, eventcore.IOModeOnce, onRead)
				})
			}
			s.Read(conn, buf, eventcore.IOModeOnce, onRead)
		})
	if err != nil {
		log.Fatal(err)
	}

	c, err := net.Dial("tcp", addr.String())
	if err != nil {
		log.Fatal(err)
	}
	c.Write([]byte("hello"))
	reply := make([]byte, 5)
	io.ReadFull(c, reply)
	fmt.Printf("%s\n", reply)
	c.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	fmt.Println(g.Shutdown(ctx))
	// Output:
	// hello
	// <nil>
}

// Command netpollecho is the echo server on cloudwego/netpoll that the
// benchmark compares with, with one poller (the benchmark gives each server
// one CPU).
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"os"

	"github.com/cloudwego/netpoll"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on")
	flag.Parse()
	if err := netpoll.Configure(netpoll.Config{PollerNum: 1}); err != nil {
		log.Fatal(err)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	nl, err := netpoll.ConvertListener(ln)
	if err != nil {
		log.Fatal(err)
	}
	loop, err := netpoll.NewEventLoop(echo)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("listening on %v (netpoll)\n", ln.Addr())
	os.Stdout.Sync()
	log.Fatal(loop.Serve(nl))
}

func echo(_ context.Context, c netpoll.Connection) error {
	r, w := c.Reader(), c.Writer()
	defer r.Release()
	msg, err := r.Next(r.Len())
	if err != nil {
		return err
	}
	if _, err := w.WriteBinary(msg); err != nil {
		return err
	}
	return w.Flush()
}

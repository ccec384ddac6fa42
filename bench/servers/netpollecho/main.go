// Command netpollecho is the echo server on cloudwego/netpoll that the
// benchmark compares with, with one poller (the benchmark gives each server
// one CPU).
package main

import (
	"context"
	"log"

	"github.com/cloudwego/netpoll"
	"github.com/eventcore-go/eventcore/bench/servers/internal/announce"
)

func main() {
	if err := netpoll.Configure(netpoll.Config{PollerNum: 1}); err != nil {
		log.Fatal(err)
	}
	ln := announce.Listen("netpoll")
	nl, err := netpoll.ConvertListener(ln)
	if err != nil {
		log.Fatal(err)
	}
	loop, err := netpoll.NewEventLoop(echo)
	if err != nil {
		log.Fatal(err)
	}
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

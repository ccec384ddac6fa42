// Command netecho is the goroutine-per-connection echo server on Go's net
// package that the benchmark compares with.
package main

import (
	"log"
	"net"

	"github.com/eventcore-go/eventcore/bench/servers/internal/announce"
)

func main() {
	ln := announce.Listen("net")
	for {
		c, err := ln.Accept()
		if err != nil {
			log.Fatal(err)
		}
		go echo(c)
	}
}

func echo(c net.Conn) {
	defer c.Close()
	buf := make([]byte, 4096)
	for {
		n, err := c.Read(buf)
		if err != nil {
			return
		}
		if _, err := c.Write(buf[:n]); err != nil {
			return
		}
	}
}

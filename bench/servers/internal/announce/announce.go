// Package announce is what the Go servers under test share: the -addr
// flag, the listening socket, and the line that tells the bench command
// where they listen.
package announce

import (
	"flag"
	"fmt"
	"log"
	"net"
	"os"
)

// Listen parses the flags, listens on -addr, and prints
// "listening on ADDR (what)" for the bench command.
func Listen(what string) net.Listener {
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on")
	flag.Parse()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("listening on %v (%s)\n", ln.Addr(), what)
	os.Stdout.Sync()
	return ln
}

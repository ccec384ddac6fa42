// Package announce is what the Go servers under test share: the -addr
// flag, the listening socket (TLS with -cert and -key), and the line that
// tells the bench command where they listen.
package announce

import (
	"crypto/tls"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
)

// Listen parses the flags, listens on -addr (with crypto/tls if -cert and
// -key name a certificate), and prints "listening on ADDR (what)" for the
// bench command.
func Listen(what string) net.Listener {
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on")
	certFile := flag.String("cert", "", "serve TLS with this certificate (PEM; with -key)")
	keyFile := flag.String("key", "", "the private key of -cert (PEM)")
	flag.Parse()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	if *certFile != "" {
		cert, err := tls.LoadX509KeyPair(*certFile, *keyFile)
		if err != nil {
			log.Fatal(err)
		}
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"http/1.1"}})
	}
	fmt.Printf("listening on %v (%s)\n", ln.Addr(), what)
	os.Stdout.Sync()
	return ln
}

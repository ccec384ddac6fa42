// Command fasthttp is the valyala/fasthttp plaintext server the benchmark
// compares with.
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"os"

	"github.com/valyala/fasthttp"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on")
	flag.Parse()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	hello := []byte("Hello, World!")
	h := func(ctx *fasthttp.RequestCtx) {
		switch string(ctx.Path()) {
		case "/", "/plaintext":
			ctx.SetContentType("text/plain")
			ctx.SetBody(hello)
		default:
			ctx.NotFound()
		}
	}
	srv := &fasthttp.Server{Handler: h, Name: "fasthttp"}
	fmt.Printf("listening on %v (fasthttp)\n", ln.Addr())
	os.Stdout.Sync()
	log.Fatal(srv.Serve(ln))
}

// Command fasthttp is the valyala/fasthttp plaintext server the benchmark
// compares with.
package main

import (
	"log"

	"github.com/eventcore-go/eventcore/bench/servers/internal/announce"
	"github.com/valyala/fasthttp"
)

func main() {
	ln := announce.Listen("fasthttp")
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
	log.Fatal(srv.Serve(ln))
}

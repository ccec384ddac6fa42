// Command nethttp is the net/http plaintext server the benchmark compares
// with.
package main

import (
	"log"
	"net/http"

	"github.com/eventcore-go/eventcore/bench/servers/internal/announce"
)

func main() {
	ln := announce.Listen("net/http")
	hello := []byte("Hello, World!")
	h := func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" && r.URL.Path != "/plaintext" {
			http.NotFound(w, r)
			return
		}
		hd := w.Header()
		hd["Server"] = []string{"net/http"}
		hd["Content-Type"] = []string{"text/plain"}
		w.Write(hello)
	}
	log.Fatal(http.Serve(ln, http.HandlerFunc(h)))
}

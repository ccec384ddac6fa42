// Command http is a minimal HTTP/1.1 server on one eventcore loop: it
// answers GET and HEAD of / and /plaintext with "Hello, World!", keeps
// connections alive, answers pipelined requests in order, and refuses
// malformed ones with 400 Bad Request.
//
//	go run ./examples/http                   # serves on 127.0.0.1:8080
//	curl http://127.0.0.1:8080/plaintext
//
// It is also the server the benchmarks (bench/) measure, so it shows how to
// keep memory low: a connection waiting for data holds no buffer. It waits
// with WaitForData, reads into one buffer the whole loop shares, answers
// into another, and keeps bytes of its own only while a request is
// incomplete or a response could not be written at once.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"log"
	"os"
	"syscall"
	"time"

	"github.com/eventcore-go/eventcore"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on")
	flag.Parse()
	a, err := eventcore.ParseAddr(*addr)
	if err != nil {
		log.Fatalf("bad -addr: %v", err)
	}
	d, err := eventcore.New()
	if err != nil {
		log.Fatal(err)
	}
	sv, err := newServer(d, a)
	if err != nil {
		log.Fatalf("listen on %v: %v", a, err)
	}
	fmt.Printf("http server listening on %v (%s driver); stop it with Ctrl-C\n", sv.addr(), d.Name())
	stop := func(eventcore.SignalID, eventcore.SignalStatus, os.Signal) { d.Core().Exit() }
	for _, sig := range []os.Signal{os.Interrupt, syscall.SIGTERM} {
		if _, err := d.Signals().Listen(sig, stop); err != nil {
			log.Fatal(err)
		}
	}
	for d.Core().ProcessEvents(eventcore.Infinite) != eventcore.ExitExited {
	}
	d.Dispose()
}

// server is the state of the loop: everything on it runs on the loop's
// goroutine, so the buffers can be shared by every connection.
type server struct {
	d   *eventcore.Driver
	s   eventcore.Sockets
	lst eventcore.StreamListener

	in  []byte // what one read fills; consumed before the read's callback returns
	out []byte // the responses to what was read, written at once

	// conns holds only connections with something to remember: a partial
	// request, body bytes to skip, or a response the socket has not taken.
	conns map[eventcore.StreamSocket]*conn

	// Written before Write, read by its callback (which runs before an
	// IOModeImmediate Write returns).
	closing bool

	date  []byte // the Date header line, refreshed every second
	clock eventcore.TimerID

	onData, onRead, onWrote, onFlushed eventcore.IOCallback
}

type conn struct {
	in      []byte // a request head received in part
	out     []byte // response bytes still to be written
	skip    int64  // request body bytes still to be discarded
	closing bool   // close once out is written
}

func newServer(d *eventcore.Driver, a eventcore.Addr) (*server, error) {
	sv := &server{
		d:     d,
		s:     d.Sockets(),
		in:    make([]byte, 64<<10),
		conns: make(map[eventcore.StreamSocket]*conn),
	}
	sv.onData, sv.onRead, sv.onWrote, sv.onFlushed = sv.data, sv.read, sv.wrote, sv.flushed
	lst, err := sv.s.ListenStream(a, eventcore.ListenDefaults, sv.accept)
	if err != nil {
		return nil, err
	}
	sv.lst = lst
	sv.tick(eventcore.TimerID{}, true)
	return sv, nil
}

func (sv *server) addr() eventcore.Addr {
	a, _ := sv.s.LocalAddress(sv.lst)
	return a
}

// close stops the server: the listener, the clock and every connection
// with state (the others are released by Dispose).
func (sv *server) close() {
	sv.s.ReleaseRef(sv.lst)
	sv.d.Timers().ReleaseRef(sv.clock)
	for sock := range sv.conns {
		sv.drop(sock)
	}
}

// tick refreshes the Date header; it re-arms itself every second.
func (sv *server) tick(_ eventcore.TimerID, fired bool) {
	if !fired {
		return
	}
	tm := sv.d.Timers()
	if sv.clock == (eventcore.TimerID{}) {
		sv.clock = tm.Create()
		tm.Set(sv.clock, time.Second, time.Second)
	}
	sv.date = time.Now().UTC().AppendFormat(append(sv.date[:0], "Date: "...), "Mon, 02 Jan 2006 15:04:05 GMT")
	sv.date = append(sv.date, "\r\n"...)
	tm.Wait(sv.clock, sv.tick)
}

func (sv *server) accept(_ eventcore.StreamListener, sock eventcore.StreamSocket, _ eventcore.Addr) {
	sv.s.WaitForData(sock, sv.onData)
}

func (sv *server) drop(sock eventcore.StreamSocket) {
	delete(sv.conns, sock)
	sv.s.ReleaseRef(sock)
}

// data: the connection has something to read.
func (sv *server) data(sock eventcore.StreamSocket, st eventcore.IOStatus, _ int) {
	if st != eventcore.IOStatusOK {
		sv.drop(sock)
		return
	}
	sv.s.Read(sock, sv.in, eventcore.IOModeImmediate, sv.onRead)
}

func (sv *server) read(sock eventcore.StreamSocket, st eventcore.IOStatus, n int) {
	switch st {
	case eventcore.IOStatusOK:
		sv.serve(sock, sv.in[:n])
	case eventcore.IOStatusWouldBlock:
		sv.s.WaitForData(sock, sv.onData)
	default: // the peer closed or the connection failed
		sv.drop(sock)
	}
}

// serve answers every whole request in data and keeps what is left.
func (sv *server) serve(sock eventcore.StreamSocket, data []byte) {
	c := sv.conns[sock]
	if c != nil {
		if c.skip > 0 {
			k := int(min(c.skip, int64(len(data))))
			c.skip -= int64(k)
			data = data[k:]
		}
		if len(c.in) > 0 {
			c.in = append(c.in, data...)
			data = c.in
		}
	}
	sv.out = sv.out[:0]
	closing := false
	var req request
	for len(data) > 0 && !closing {
		n, err := parseRequest(data, &req)
		if err != nil {
			sv.out = appendError(sv.out, err)
			closing = true
			break
		}
		if n == 0 {
			break
		}
		data = data[n:]
		if req.chunked {
			sv.out = appendStatus(sv.out, "501 Not Implemented", true)
			closing = true
			break
		}
		sv.out = sv.respond(sv.out, &req)
		closing = !req.keepAlive
		if req.contentLength > 0 {
			k := int(min(req.contentLength, int64(len(data))))
			data = data[k:]
			if rest := req.contentLength - int64(k); rest > 0 {
				c = sv.state(sock, c)
				c.skip = rest
			}
		}
	}
	switch {
	case closing || len(data) == 0:
		if c != nil {
			c.in = c.in[:0]
		}
	case c != nil && len(c.in) > 0:
		// data is the tail of c.in: move it to the front.
		c.in = c.in[:copy(c.in, data)]
	default:
		c = sv.state(sock, c)
		c.in = append(c.in[:0], data...)
	}
	if c != nil && c.skip == 0 && len(c.in) == 0 {
		delete(sv.conns, sock)
	}
	if len(sv.out) == 0 {
		sv.s.WaitForData(sock, sv.onData)
		return
	}
	sv.closing = closing
	sv.s.Write(sock, sv.out, eventcore.IOModeImmediate, sv.onWrote)
}

// state returns c, the connection's state, creating it if c is nil.
func (sv *server) state(sock eventcore.StreamSocket, c *conn) *conn {
	if c == nil {
		c = &conn{}
		sv.conns[sock] = c
	}
	return c
}

// wrote: the immediate write of sv.out took n bytes.
func (sv *server) wrote(sock eventcore.StreamSocket, st eventcore.IOStatus, n int) {
	if st != eventcore.IOStatusOK && st != eventcore.IOStatusWouldBlock {
		sv.drop(sock)
		return
	}
	if n < len(sv.out) {
		// The socket's buffer is full: keep the rest until it drains, and
		// read no more meanwhile.
		c := sv.state(sock, sv.conns[sock])
		c.out = append(c.out[:0], sv.out[n:]...)
		c.closing = sv.closing
		sv.s.Write(sock, c.out, eventcore.IOModeAll, sv.onFlushed)
		return
	}
	sv.next(sock, sv.closing)
}

func (sv *server) flushed(sock eventcore.StreamSocket, st eventcore.IOStatus, _ int) {
	c := sv.conns[sock]
	if st != eventcore.IOStatusOK || c == nil {
		sv.drop(sock)
		return
	}
	c.out = nil
	closing := c.closing
	if c.skip == 0 && len(c.in) == 0 {
		delete(sv.conns, sock)
	}
	sv.next(sock, closing)
}

// next waits for the next request, or closes after the last response.
func (sv *server) next(sock eventcore.StreamSocket, closing bool) {
	if closing {
		sv.s.Shutdown(sock, false, true)
		sv.drop(sock)
		return
	}
	sv.s.WaitForData(sock, sv.onData)
}

const hello = "Hello, World!"

func (sv *server) respond(out []byte, req *request) []byte {
	path := req.target
	if i := bytes.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	get, head := string(req.method) == "GET", string(req.method) == "HEAD"
	switch {
	case string(path) != "/" && string(path) != "/plaintext":
		return sv.appendHead(out, "404 Not Found", 0, !req.keepAlive)
	case !get && !head:
		return sv.appendHead(out, "405 Method Not Allowed", 0, !req.keepAlive)
	}
	out = sv.appendHead(out, "200 OK", len(hello), !req.keepAlive)
	if get {
		out = append(out, hello...)
	}
	return out
}

func (sv *server) appendHead(out []byte, status string, length int, closing bool) []byte {
	out = append(out, "HTTP/1.1 "...)
	out = append(out, status...)
	out = append(out, "\r\nServer: eventcore\r\n"...)
	out = append(out, sv.date...)
	out = append(out, "Content-Type: text/plain\r\nContent-Length: "...)
	out = appendInt(out, length)
	if closing {
		out = append(out, "\r\nConnection: close"...)
	}
	return append(out, "\r\n\r\n"...)
}

func appendStatus(out []byte, status string, closing bool) []byte {
	out = append(out, "HTTP/1.1 "...)
	out = append(out, status...)
	out = append(out, "\r\nContent-Length: 0"...)
	if closing {
		out = append(out, "\r\nConnection: close"...)
	}
	return append(out, "\r\n\r\n"...)
}

func appendError(out []byte, err error) []byte {
	if err == errTooLarge {
		return appendStatus(out, "431 Request Header Fields Too Large", true)
	}
	return appendStatus(out, "400 Bad Request", true)
}

func appendInt(b []byte, n int) []byte {
	var d [20]byte
	i := len(d)
	for {
		i--
		d[i] = byte('0' + n%10)
		if n /= 10; n == 0 {
			break
		}
	}
	return append(b, d[i:]...)
}

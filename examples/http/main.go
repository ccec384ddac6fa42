// Command http is a minimal HTTP/1.1 server on a group of eventcore loops
// (-loops, default one per CPU, each serving its own connections): it
// answers GET and HEAD of / and /plaintext with "Hello, World!", keeps
// connections alive, answers pipelined requests in order, and refuses
// malformed ones with 400 Bad Request.
//
//	go run ./examples/http                   # serves on 127.0.0.1:8080
//	curl http://127.0.0.1:8080/plaintext
//
// It is also the server the benchmarks (bench/) measure, so it shows how to
// keep memory low: a connection waiting for data holds no buffer, only a
// small record of its state and deadline. It reads with ReadLoaned, into a
// buffer the loop lends (on io_uring, the kernel receives into the loop's
// buffer ring: no read system call), answers into one buffer the whole loop
// shares, and keeps bytes of its own only while a request is incomplete or
// a response could not be written at once.
//
// A client gets bounded memory and time, whatever it sends or fails to
// read:
//
//   - a request head, with the empty lines before it, may take 8 KiB;
//     beyond that it is refused (431, or 400 for nothing but empty lines).
//     Empty lines are dropped as they arrive, and a head is scanned once
//     however it is split. A connection keeps at most a head in part (with
//     the read that follows it while that is parsed) and the responses to
//     one read (64 KiB of requests) that the client does not take;
//   - -header-timeout (default 10s): a request head must arrive in full
//     within this time of its first byte (the first request: of the
//     connection's opening), and a body the server discards within this
//     time of the head's end;
//   - -idle-timeout (default 60s): a kept-alive connection may wait this
//     long for its next request;
//   - -write-timeout (default 10s): responses the client does not take
//     within this time close the connection;
//   - -max-conns (default 10000): connections served at once by each
//     loop; more are closed as they arrive.
//
// Ctrl-C or SIGTERM shuts the server down gracefully: the loops stop
// accepting, close their idle connections, and close the others once their
// responses are written; connections still open 5 seconds later are closed.
//
// With -cert and -key (PEM files), or -selfsigned (a certificate for
// localhost made at start), it serves HTTPS instead, on the same loops,
// through tlsstream: the TLS handshake must end within -header-timeout,
// and -handshakers bounds the handshakes in progress at once.
//
//	go run ./examples/http -selfsigned -addr 127.0.0.1:8443
//	curl -k https://127.0.0.1:8443/plaintext
//
// A connection that runs out of time is closed, without a response. The
// deadlines are checked every quarter of the shortest timeout, at most one
// second apart, so a connection is closed between its timeout and that
// plus two of those periods after the event that armed it.
package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"github.com/eventcore-go/eventcore"
	"github.com/eventcore-go/eventcore/group"
	"github.com/eventcore-go/eventcore/tlsstream"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on")
	lim := defaultLimits
	flag.DurationVar(&lim.header, "header-timeout", lim.header, "time a request head may take to arrive, from its first byte (the first request: from the connection's opening)")
	flag.DurationVar(&lim.idle, "idle-timeout", lim.idle, "time a kept-alive connection may wait for its next request")
	flag.DurationVar(&lim.write, "write-timeout", lim.write, "time responses may wait for the client to take them")
	flag.IntVar(&lim.maxConns, "max-conns", lim.maxConns, "connections served at once by each loop; more are closed as they arrive")
	loops := flag.Int("loops", runtime.GOMAXPROCS(0), "event loops serving the address")
	certFile := flag.String("cert", "", "serve HTTPS with this certificate (PEM; with -key)")
	keyFile := flag.String("key", "", "the private key of -cert (PEM)")
	selfSigned := flag.Bool("selfsigned", false, "serve HTTPS with a self-signed certificate for localhost made at start")
	handshakers := flag.Int("handshakers", tlsstream.DefaultHandshakers, "TLS handshakes in progress at once, per loop")
	flag.Parse()
	a, err := eventcore.ParseAddr(*addr)
	if err != nil {
		log.Fatalf("bad -addr: %v", err)
	}
	if err := lim.check(); err != nil {
		log.Fatal(err)
	}
	var tlsCfg *tls.Config
	switch {
	case *selfSigned:
		cert, err := selfSignedCert()
		if err != nil {
			log.Fatal(err)
		}
		tlsCfg = &tls.Config{Certificates: []tls.Certificate{cert}}
	case *certFile != "" || *keyFile != "":
		cert, err := tls.LoadX509KeyPair(*certFile, *keyFile)
		if err != nil {
			log.Fatal(err)
		}
		tlsCfg = &tls.Config{Certificates: []tls.Certificate{cert}}
	}
	if tlsCfg != nil {
		tlsCfg.NextProtos = []string{"http/1.1"}
	}
	g, _, bound, err := serve(a, lim, *loops, tlsCfg, *handshakers)
	if err != nil {
		log.Fatal(err)
	}
	scheme := "http"
	if tlsCfg != nil {
		scheme = "https"
	}
	fmt.Printf("%s server listening on %v (%d loops); stop it with Ctrl-C\n", scheme, bound, g.Len())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	<-ctx.Done()
	stop()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := g.Shutdown(ctx); err != nil {
		log.Fatal(err)
	}
}

// serve starts a group of loops, each with a server of its own, serving
// a, HTTPS if tlsCfg is not nil (with at most handshakers handshakes at
// once per loop); it returns the group, the servers by loop and the
// address it listens on.
func serve(a eventcore.Addr, lim limits, loops int, tlsCfg *tls.Config, handshakers int) (*group.Group, []*server, eventcore.Addr, error) {
	if loops <= 0 {
		return nil, nil, eventcore.Addr{}, errors.New("-loops must be positive")
	}
	servers := make([]*server, loops)
	g, err := group.New(group.WithLoops(loops), group.WithSetup(func(l *group.Loop) error {
		sv, err := newServer(l, lim, tlsCfg, handshakers)
		if err != nil {
			return err
		}
		servers[l.Index()] = sv
		l.OnShutdown(func(time.Time) { sv.close() })
		return nil
	}))
	if err != nil {
		return nil, nil, eventcore.Addr{}, err
	}
	bound, err := g.ServeStream(a, group.Default, func(l *group.Loop, sock eventcore.StreamSocket, _ eventcore.Addr) {
		servers[l.Index()].accept(sock)
	})
	if err != nil {
		g.Shutdown(context.Background())
		return nil, nil, eventcore.Addr{}, fmt.Errorf("listen on %v: %w", a, err)
	}
	return g, servers, bound, nil
}

// limits bound what one connection may cost (see the package doc).
type limits struct {
	header, idle, write time.Duration
	maxConns            int
}

var defaultLimits = limits{header: 10 * time.Second, idle: 60 * time.Second, write: 10 * time.Second, maxConns: 10000}

func (lim limits) check() error {
	if lim.header <= 0 || lim.idle <= 0 || lim.write <= 0 {
		return errors.New("the timeouts must be positive")
	}
	if lim.maxConns <= 0 {
		return errors.New("-max-conns must be positive")
	}
	return nil
}

// period is how often the deadlines are checked: a quarter of the shortest
// timeout, at most a second (the Date header's resolution), at least a
// millisecond.
func (lim limits) period() time.Duration {
	return min(max(min(lim.header, lim.idle, lim.write)/4, time.Millisecond), time.Second)
}

// server is the state of one loop: everything on it runs on the loop's
// goroutine, so the buffers can be shared by every connection.
type server struct {
	l   *group.Loop
	d   *eventcore.Driver
	s   eventcore.Sockets
	lim limits

	in  []byte // what a TLS stream's read fills; consumed before its callback returns
	out []byte // the responses to what was read, written at once

	conns map[eventcore.StreamSocket]*conn // every open connection, by socket

	// HTTPS: each connection's TLS stream, made by tl with tlsCfg; nil
	// for plain HTTP.
	tl     *tlsstream.Layer
	tlsCfg *tls.Config

	// The connection whose responses sv.out holds: set before Write, read
	// by its callback (which runs before an IOModeImmediate Write returns).
	cur *conn

	// The clock: a periodic timer advances now and closes the connections
	// past their deadline, so that arming a deadline costs one addition.
	clock  eventcore.TimerID
	epoch  time.Time
	now    int64 // nanoseconds since epoch at the last tick
	slack  int64 // the tick period: how far now may lag behind
	date   []byte
	dateAt int64 // the Unix second date shows

	onLoan                                         eventcore.LoanCallback
	onWrote, onFlushed                             eventcore.IOCallback
	onTLSData, onTLSRead, onTLSWrote, onTLSFlushed tlsstream.IOCallback
	onTick                                         eventcore.TimerCallback
}

type conn struct {
	in       []byte   // a request head received in part; nil when none
	scan     headScan // what is known of it
	out      []byte   // response bytes still to be written
	skip     int64    // request body bytes still to be discarded
	closing  bool     // close once out is written
	reading  bool     // a request has begun: the deadline is its head's
	deadline int64    // on the server's clock: closed if still waiting then
	tls      *tlsstream.Stream
}

// pending reports whether a request has begun and not arrived in full.
func (c *conn) pending() bool { return len(c.in) > 0 || c.scan.blank > 0 || c.skip > 0 }

// newServer makes the server of loop l, HTTPS if tlsCfg is not nil (with
// at most handshakers handshakes at once); the group hands it connections
// (accept).
func newServer(l *group.Loop, lim limits, tlsCfg *tls.Config, handshakers int) (*server, error) {
	if err := lim.check(); err != nil {
		return nil, err
	}
	d := l.Driver()
	sv := &server{
		l:     l,
		d:     d,
		s:     d.Sockets(),
		lim:   lim,
		conns: make(map[eventcore.StreamSocket]*conn),
		epoch: time.Now(),
		slack: int64(lim.period()),
	}
	sv.onLoan, sv.onWrote, sv.onFlushed = sv.loaned, sv.wrote, sv.flushed
	if tlsCfg != nil {
		sv.in = make([]byte, 64<<10)
		sv.tl = tlsstream.New(d, tlsstream.Config{Handshakers: handshakers, HandshakeTimeout: lim.header})
		sv.tlsCfg = tlsCfg
		// A stream's callbacks go where its socket's would.
		sv.onTLSData = func(s *tlsstream.Stream, st eventcore.IOStatus, _ int) {
			if st != eventcore.IOStatusOK {
				sv.drop(s.Socket())
				return
			}
			s.Read(sv.in, eventcore.IOModeImmediate, sv.onTLSRead)
		}
		sv.onTLSRead = func(s *tlsstream.Stream, st eventcore.IOStatus, n int) { sv.read(s.Socket(), st, n) }
		sv.onTLSWrote = func(s *tlsstream.Stream, st eventcore.IOStatus, n int) { sv.wrote(s.Socket(), st, n) }
		sv.onTLSFlushed = func(s *tlsstream.Stream, st eventcore.IOStatus, n int) { sv.flushed(s.Socket(), st, n) }
	}
	sv.onTick = sv.tick
	sv.tick(eventcore.TimerID{}, true)
	return sv, nil
}

// close begins the loop's shutdown: it stops the clock, closes the idle
// connections, and leaves the others to close after their responses.
func (sv *server) close() {
	tm := sv.d.Timers()
	tm.CancelWait(sv.clock)
	tm.ReleaseRef(sv.clock)
	for sock, c := range sv.conns {
		if c.pending() || len(c.out) > 0 {
			c.closing = true
		} else {
			sv.drop(sock)
		}
	}
}

// tick advances the clock, refreshes the Date header when the second
// changes and closes the connections past their deadline; it re-arms
// itself every period.
func (sv *server) tick(_ eventcore.TimerID, fired bool) {
	if !fired {
		return
	}
	tm := sv.d.Timers()
	if sv.clock == (eventcore.TimerID{}) {
		sv.clock = tm.Create()
		tm.Set(sv.clock, time.Duration(sv.slack), time.Duration(sv.slack))
	}
	t := time.Now()
	sv.now = int64(t.Sub(sv.epoch))
	if sec := t.Unix(); sec != sv.dateAt || sv.date == nil {
		sv.dateAt = sec
		sv.date = t.UTC().AppendFormat(append(sv.date[:0], "Date: "...), "Mon, 02 Jan 2006 15:04:05 GMT")
		sv.date = append(sv.date, "\r\n"...)
	}
	for sock, c := range sv.conns {
		if sv.now >= c.deadline {
			sv.drop(sock)
		}
	}
	tm.Wait(sv.clock, sv.onTick)
}

// after returns the deadline d from now on the server's clock. now lags
// by up to a period, so the deadline gets one more: the connection is
// closed no sooner than d after the event that armed it.
func (sv *server) after(d time.Duration) int64 { return sv.now + int64(d) + sv.slack }

// arm sets c's deadline for what it waits for next: the rest of a request
// (from its start: progressed says a request or a body ended meanwhile, so
// that what is left began just now) or a new one.
func (sv *server) arm(c *conn, progressed bool) {
	switch {
	case !c.pending():
		c.reading = false
		c.deadline = sv.after(sv.lim.idle)
	case !c.reading || progressed:
		c.reading = true
		c.deadline = sv.after(sv.lim.header)
	}
}

func (sv *server) accept(sock eventcore.StreamSocket) {
	if len(sv.conns) >= sv.lim.maxConns {
		sv.l.Release(sock)
		return
	}
	c := &conn{reading: true, deadline: sv.after(sv.lim.header)}
	if sv.tl != nil {
		c.tls = sv.tl.Server(sock, sv.tlsCfg)
	}
	sv.conns[sock] = c
	sv.waitForData(sock, c)
}

// drop closes a connection: a TLS stream with close_notify, after which
// the stream releases the socket (the group notices: see group.Loop).
func (sv *server) drop(sock eventcore.StreamSocket) {
	if c := sv.conns[sock]; c != nil && c.tls != nil {
		c.tls.Close()
	} else {
		sv.l.Release(sock)
	}
	delete(sv.conns, sock)
}

// waitForData waits for c's next bytes, on its socket or TLS stream.
func (sv *server) waitForData(sock eventcore.StreamSocket, c *conn) {
	if c.tls != nil {
		c.tls.WaitForData(sv.onTLSData)
		return
	}
	sv.s.ReadLoaned(sock, sv.onLoan)
}

// write writes buf on c's socket or TLS stream; then wrote runs, or
// flushed if flush.
func (sv *server) write(sock eventcore.StreamSocket, c *conn, buf []byte, mode eventcore.IOMode, flush bool) {
	switch {
	case c.tls != nil && flush:
		c.tls.Write(buf, mode, sv.onTLSFlushed)
	case c.tls != nil:
		c.tls.Write(buf, mode, sv.onTLSWrote)
	case flush:
		sv.s.Write(sock, buf, mode, sv.onFlushed)
	default:
		sv.s.Write(sock, buf, mode, sv.onWrote)
	}
}

// loaned: a plain connection's read, in a buffer the loop lends until
// this returns (serve copies what it keeps).
func (sv *server) loaned(sock eventcore.StreamSocket, st eventcore.IOStatus, data []byte) {
	c := sv.conns[sock]
	if c == nil || st != eventcore.IOStatusOK {
		sv.drop(sock) // the peer closed or the connection failed
		return
	}
	sv.serve(sock, c, data)
}

// read: a TLS stream's read into sv.in.
func (sv *server) read(sock eventcore.StreamSocket, st eventcore.IOStatus, n int) {
	c := sv.conns[sock]
	switch {
	case c == nil || (st != eventcore.IOStatusOK && st != eventcore.IOStatusWouldBlock):
		sv.drop(sock) // the peer closed or the connection failed
	case st == eventcore.IOStatusOK:
		sv.serve(sock, c, sv.in[:n])
	default:
		sv.waitForData(sock, c)
	}
}

// serve answers every whole request in data and keeps what is left.
func (sv *server) serve(sock eventcore.StreamSocket, c *conn, data []byte) {
	progressed := false
	if c.skip > 0 {
		k := int(min(c.skip, int64(len(data))))
		c.skip -= int64(k)
		data = data[k:]
		progressed = c.skip == 0
	}
	if len(c.in) > 0 {
		c.in = append(c.in, data...)
		data = c.in
	}
	sv.out = sv.out[:0]
	closing := false
	var req request
	for len(data) > 0 && !closing {
		n, ok, err := parseRequest(data, &req, &c.scan)
		data = data[n:]
		if err != nil {
			sv.out = appendError(sv.out, err)
			closing = true
			break
		}
		if !ok {
			break
		}
		progressed = true
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
			c.skip = req.contentLength - int64(k)
		}
	}
	switch {
	case closing || len(data) == 0:
		c.in = nil
	case len(c.in) == 0:
		c.in = append([]byte(nil), data...)
	case len(data) < len(c.in):
		// data is the tail of c.in: move it to the front.
		c.in = c.in[:copy(c.in, data)]
	}
	sv.arm(c, progressed)
	closing = closing || sv.l.Draining() // answer what came, then close
	if len(sv.out) == 0 {
		sv.waitForData(sock, c)
		return
	}
	c.closing = closing
	sv.cur = c
	sv.write(sock, c, sv.out, eventcore.IOModeImmediate, false)
}

// wrote: the immediate write of sv.out took n bytes.
func (sv *server) wrote(sock eventcore.StreamSocket, st eventcore.IOStatus, n int) {
	if st != eventcore.IOStatusOK && st != eventcore.IOStatusWouldBlock {
		sv.drop(sock)
		return
	}
	c := sv.cur
	if n < len(sv.out) {
		// The socket's buffer is full: keep the rest until it drains, or
		// the write timeout, and read no more meanwhile.
		c.out = append(c.out[:0], sv.out[n:]...)
		c.deadline = sv.after(sv.lim.write)
		sv.write(sock, c, c.out, eventcore.IOModeAll, true)
		return
	}
	sv.next(sock, c)
}

func (sv *server) flushed(sock eventcore.StreamSocket, st eventcore.IOStatus, _ int) {
	c := sv.conns[sock]
	if st != eventcore.IOStatusOK || c == nil {
		sv.drop(sock)
		return
	}
	c.out = nil
	sv.arm(c, true)
	sv.next(sock, c)
}

// next waits for the next request, or closes after the last response.
func (sv *server) next(sock eventcore.StreamSocket, c *conn) {
	if c.closing {
		if c.tls == nil {
			sv.s.Shutdown(sock, false, true)
		}
		sv.drop(sock)
		return
	}
	sv.waitForData(sock, c)
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

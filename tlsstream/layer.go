package tlsstream

import (
	"crypto/tls"
	"errors"
	"net/netip"
	"time"

	"github.com/eventcore-go/eventcore"
)

// Config sets the limits of a [Layer]. The zero Config takes the defaults.
type Config struct {
	// Handshakers bounds the handshakes in progress at once, which is the
	// number of goroutines the layer may run: a handshake holds one from
	// its first byte (the client's first byte, on a server) to its end,
	// waiting on the network included. More handshakes wait, in order, in
	// a queue that holds no goroutine. 0 means DefaultHandshakers.
	Handshakers int
	// HandshakeTimeout bounds a handshake, counted from the stream's
	// creation (time in the queue included): a stream whose handshake has
	// not ended by then fails with ErrHandshakeTimeout and is closed.
	// 0 means DefaultHandshakeTimeout; it cannot be turned off.
	HandshakeTimeout time.Duration
}

const (
	// DefaultHandshakers is Config.Handshakers when it is 0.
	DefaultHandshakers = 256
	// DefaultHandshakeTimeout is Config.HandshakeTimeout when it is 0.
	DefaultHandshakeTimeout = 10 * time.Second
)

var (
	// ErrHandshakeTimeout: the handshake did not end within
	// Config.HandshakeTimeout.
	ErrHandshakeTimeout = errors.New("tlsstream: handshake timed out")
	// ErrClosed: the stream was closed by its owner, or shut down in the
	// direction of the operation.
	ErrClosed = errors.New("tlsstream: stream closed")
	// ErrBusy: an operation of the same direction is already pending.
	ErrBusy = errors.New("tlsstream: operation already pending")
	// ErrUserDataTaken: the socket given to Server or Client already
	// carries user data of another type than *Stream (see [Layer.Server]).
	ErrUserDataTaken = errors.New("tlsstream: the socket's user data holds another type")
)

// Layer is TLS on one driver's loop: it makes [Stream]s of its sockets and
// runs their handshakes. Create it with [New]. Like the driver's own
// interfaces, its methods and those of its streams belong to the loop's
// owner goroutine, and so do all callbacks.
type Layer struct {
	d       *eventcore.Driver
	s       eventcore.Sockets
	core    eventcore.Core
	pool    pool
	timeout time.Duration

	// The socket callbacks, shared by every stream: a stream is found from
	// its socket (or handshake timer) by UserData, so that a stream carries
	// no function values of its own.
	onImm, onFlushed, onHello, onHsReadable eventcore.IOCallback
	onLoaned                                eventcore.LoanCallback
	onTimeout                               eventcore.TimerCallback
	// What the last IOModeImmediate operation reported: its callback runs
	// before Read or Write returns.
	immSt eventcore.IOStatus
	immN  int
}

// New returns the TLS layer of driver d. A layer needs no closing: it
// holds a goroutine only while a handshake runs. Close every stream before
// disposing of d, as every handle; a handshake left running then ends at
// its timeout at the latest.
func New(d *eventcore.Driver, cfg Config) *Layer {
	l := &Layer{d: d, s: d.Sockets(), core: d.Core(), timeout: cfg.HandshakeTimeout}
	if l.timeout <= 0 {
		l.timeout = DefaultHandshakeTimeout
	}
	l.pool.max = cfg.Handshakers
	if l.pool.max <= 0 {
		l.pool.max = DefaultHandshakers
	}
	l.onImm = func(_ eventcore.StreamSocket, st eventcore.IOStatus, n int) { l.immSt, l.immN = st, n }
	l.onFlushed = l.flushed
	l.onLoaned = l.loaned
	l.onHello = l.hello
	l.onHsReadable = l.hsReadable
	l.onTimeout = l.handshakeTimedOut
	return l
}

// Server makes a server stream of sock, a connected stream socket, and
// starts its handshake with cfg (which must hold a certificate, or
// GetCertificate or GetConfigForClient). The stream owns the socket from
// then on: it releases it when it is closed or fails, so the caller must
// not release it (nor read or write it) itself; it may still set options
// and ask addresses. The stream is found from its socket through the
// socket's user data (eventcore.UserData[*Stream]), which it takes: a
// socket that carries user data of another type gives a stream that has
// failed with ErrUserDataTaken.
//
// Reads and writes may start at once; they complete once the handshake
// has ended. The handshake waits for the client's first bytes before it
// takes a handshaker (see Config.Handshakers).
func (l *Layer) Server(sock eventcore.StreamSocket, cfg *tls.Config) *Stream {
	s := l.newStream(sock)
	s.tc = tls.Server(&s.t, cfg)
	if s.attach() {
		l.s.WaitForData(sock, l.onHello)
	}
	return s
}

// Client makes a client stream of sock, a connected stream socket, and
// starts its handshake with cfg. cfg must name the server (ServerName), or
// set InsecureSkipVerify: the server's certificate is verified unless it
// does. The stream owns the socket, as with Server.
func (l *Layer) Client(sock eventcore.StreamSocket, cfg *tls.Config) *Stream {
	s := l.newStream(sock)
	s.tc = tls.Client(&s.t, cfg)
	if s.attach() {
		l.pool.submit(s.hs)
	}
	return s
}

// AcceptCallback is called by a TLS listener once per accepted connection,
// when its handshake has ended: with err nil, s is ready; otherwise s has
// failed and is closed already, and err (crypto/tls's error unchanged, or
// ErrHandshakeTimeout) tells why. The callback owns s: it closes it when
// done with it.
type AcceptCallback func(s *Stream, err error)

// Listen listens on bind (see [eventcore.Sockets.ListenStream]) and makes
// a server stream of every connection accepted, with cfg; cb is called
// once its handshake has ended. Stop listening by releasing the listener
// (Sockets().ReleaseRef): streams already made live on.
func (l *Layer) Listen(bind eventcore.Addr, opts eventcore.StreamListenOptions, cfg *tls.Config, cb AcceptCallback) (eventcore.StreamListener, error) {
	done := func(s *Stream, err error) { cb(s, err) }
	return l.s.ListenStream(bind, opts, func(_ eventcore.StreamListener, sock eventcore.StreamSocket, _ eventcore.Addr) {
		l.Server(sock, cfg).Handshake(done)
	})
}

// Dial connects to peer and makes a client stream of the connection (see
// Client); cb is called once, when the handshake has ended or the
// connection failed (with the connect's error, or crypto/tls's error),
// unless the stream is closed first. cb may be nil: the stream's
// Handshake then waits for the same. If cfg names no
// server and does not skip verification, the peer's IP address is the
// name verified (a certificate must list it). cb may run before Dial
// returns, when the connection fails at once.
func (l *Layer) Dial(peer eventcore.Addr, cfg *tls.Config, cb HandshakeCallback) *Stream {
	if cfg.ServerName == "" && !cfg.InsecureSkipVerify && peer.IsIP() {
		cfg = cfg.Clone()
		cfg.ServerName = peer.AddrPort().Addr().WithZone("").String()
	}
	s := &Stream{l: l, hcb: cb, connecting: true}
	s.t.s = s
	sock := l.s.ConnectStream(peer, eventcore.Addr{}, func(sock eventcore.StreamSocket, st eventcore.ConnectStatus) {
		s.sock = sock
		s.connecting = false
		if st != eventcore.ConnectStatusConnected {
			err := l.d.LastError(sock)
			if err == nil {
				err = errors.New("tlsstream: connect: " + st.String())
			}
			s.fail(err)
			return
		}
		s.tc = tls.Client(&s.t, cfg)
		if s.attach() {
			l.pool.submit(s.hs)
		}
	})
	s.sock = sock // the same handle, should the callback have run already
	return s
}

func (l *Layer) newStream(sock eventcore.StreamSocket) *Stream {
	s := &Stream{l: l, sock: sock}
	s.t.s = s
	return s
}

// stream returns the stream of a socket or timer, nil if it has none.
func (l *Layer) stream(h eventcore.Handle) *Stream {
	var p **Stream
	switch h := h.(type) {
	case eventcore.StreamSocket:
		p = eventcore.UserData[*Stream](l.d, h)
	case eventcore.TimerID:
		p = eventcore.UserData[*Stream](l.d, h)
	}
	if p == nil {
		return nil
	}
	return *p
}

// netAddr converts a socket's address for crypto/tls, which hands it on
// (ClientHelloInfo.Conn, its session cache's key when no server is named).
func netAddr(a eventcore.Addr) netAddress {
	if a.IsUnix() {
		return netAddress{network: "unix", s: a.Path()}
	}
	ap := a.AddrPort()
	if !ap.IsValid() {
		ap = netip.AddrPort{}
	}
	return netAddress{network: "tcp", s: ap.String()}
}

// netAddress is a net.Addr of a network and a string, made once.
type netAddress struct{ network, s string }

func (a netAddress) Network() string { return a.network }
func (a netAddress) String() string  { return a.s }

package eventcore

import "time"

// ConnectCallback is called once per ConnectStream, with the socket and the
// outcome. On failure the socket is closed (ConnectionClosed) but its handle
// stays valid, so that LastError can tell why, until it is released.
type ConnectCallback func(s StreamSocket, status ConnectStatus)

// AcceptCallback is called for every accepted connection. The new socket has
// one reference, owned by the callback's receiver. remote is the peer's
// address; for a Unix-domain listener it is usually an unnamed Unix Addr.
type AcceptCallback func(l StreamListener, s StreamSocket, remote Addr)

// IOCallback is called once per Read or Write (unless cancelled) with the
// status and the number of bytes transferred.
type IOCallback func(s StreamSocket, status IOStatus, n int)

// DatagramIOCallback is called once per Receive or Send (unless cancelled)
// with the status, the datagram's length, and the peer's address (the
// sender for Receive, the target for Send). A received datagram larger than
// the buffer completes with IOStatusTruncated and n = len(buf): the buffer
// holds its first n bytes, the rest was discarded. The address is a value:
// it stays valid after the callback returns.
type DatagramIOCallback func(s DatagramSocket, status IOStatus, n int, addr Addr)

// StreamListenOptions are flags for [Sockets.ListenStream].
type StreamListenOptions uint8

const (
	// ListenReusePort lets several sockets listen on the same address. On
	// Linux and DragonFly (SO_REUSEPORT) and FreeBSD 12 and later
	// (SO_REUSEPORT_LB, up to 256 sockets) the kernel spreads connections
	// over them; macOS, NetBSD and OpenBSD (SO_REUSEPORT) give one of them
	// every connection. Windows has no such option: ErrNotSupported.
	ListenReusePort StreamListenOptions = 1 << iota
	// ListenReuseAddress sets SO_REUSEADDR: the address can be bound again
	// while old connections to it linger in TIME_WAIT.
	ListenReuseAddress
	// ListenIPTransparent lets the socket bind to a non-local address, for
	// transparent proxies: IP_TRANSPARENT on Linux (needs CAP_NET_ADMIN),
	// IP_BINDANY on FreeBSD and SO_BINDANY on OpenBSD (both privileged);
	// elsewhere listening fails with ErrNotSupported.
	ListenIPTransparent

	// ListenDefaults is what most servers want: ListenReuseAddress.
	ListenDefaults = ListenReuseAddress
)

// DatagramCreateOptions are flags for [Sockets.CreateDatagramSocket].
type DatagramCreateOptions uint8

const (
	// DatagramReuseAddress sets SO_REUSEADDR before binding.
	DatagramReuseAddress DatagramCreateOptions = 1 << iota
	// DatagramReusePort lets several sockets bind the same address, with
	// the option and the kernel's spreading of datagrams that
	// ListenReusePort has.
	DatagramReusePort
	// DatagramBroadcast sets SO_BROADCAST.
	DatagramBroadcast
)

// SocketOption is an option that [Sockets.SetOption] turns on or off.
type SocketOption uint8

const (
	// SocketOptionNoDelay (stream): TCP_NODELAY, sending small segments at
	// once instead of coalescing them (Nagle's algorithm). Connections made
	// or accepted by the driver start with it on, as in Go's net.
	SocketOptionNoDelay SocketOption = iota
	// SocketOptionKeepAlive (stream): SO_KEEPALIVE.
	SocketOptionKeepAlive
	// SocketOptionBroadcast (datagram): SO_BROADCAST.
	SocketOptionBroadcast
	// SocketOptionMulticastLoopback (datagram): whether multicast datagrams
	// we send are delivered to our own host's members of the group.
	SocketOptionMulticastLoopback
)

// Sockets is stream and datagram networking: [Driver.Sockets] returns it.
// Its methods belong to the loop's owner goroutine.
//
// Stream sockets are TCP over IPv4 and IPv6, and Unix-domain stream sockets;
// datagram sockets are UDP and Unix-domain datagram sockets. The family is
// that of the address given.
//
// Callbacks follow the seed's rules: a callback other than an accept
// callback runs at most once, and exactly once unless its operation is
// cancelled; after a cancel returns, its callback never runs. A callback may
// run before the call that started its operation returns, when the result
// is known at once (data already there, an error, a misuse); each method
// says so. Misuse (an invalid handle, a second pending read) is reported
// through the callback's status and [Driver.LastError], never by a panic.
type Sockets struct{ l *loop }

// ConnectStream connects to peer, from bind if bind is not the zero Addr,
// and calls cb with the outcome. It always returns a socket with one
// reference, which the caller must release, even when the connection fails.
// cb may run before ConnectStream returns: when the connection is made at
// once (often so for Unix-domain sockets) or fails at once. A TCP connection
// that reaches itself (a connect to a local port no one listens on that
// took that port as its source: TCP's simultaneous open) is refused,
// [ConnectStatusRefused], as nothing listens there.
func (s Sockets) ConnectStream(peer, bind Addr, cb ConnectCallback) StreamSocket {
	return s.l.sockConnect(peer, bind, cb)
}

// CancelConnectStream aborts a connection attempt: cb will not be called.
// The socket is closed and its handle becomes invalid whatever its
// reference count, as in the seed. It does nothing unless the socket is in
// ConnectionConnecting.
func (s Sockets) CancelConnectStream(sock StreamSocket) { s.l.sockCancelConnect(sock.h) }

// AdoptStream takes over fd, a connected stream socket (for example one
// inherited from a parent process or taken from a net.Conn's File). It is
// switched to non-blocking mode; the driver closes it when the last
// reference is released. It fails with ErrAlreadyRegistered if the driver
// already owns fd.
func (s Sockets) AdoptStream(fd uintptr) (StreamSocket, error) {
	h, err := s.l.sockAdopt(fd, kindStreamSocket)
	return StreamSocket{h}, err
}

// ListenStream creates a socket listening on bind. If cb is not nil, the
// socket waits for connections at once (as with WaitForConnections).
// Binding port 0 picks a free port; LocalAddress tells which. A Unix-domain
// socket file created here is removed when the listener is freed.
func (s Sockets) ListenStream(bind Addr, opts StreamListenOptions, cb AcceptCallback) (StreamListener, error) {
	h, err := s.l.sockListen(bind, opts, cb)
	return StreamListener{h}, err
}

// WaitForConnections starts (or replaces the callback of) accepting
// connections on the listener: cb is called for each, from ProcessEvents,
// until the listener is released. A waiting listener counts as one waiter.
// It reports false if the handle is invalid.
func (s Sockets) WaitForConnections(l StreamListener, cb AcceptCallback) bool {
	return s.l.sockWaitForConnections(l.h, cb)
}

// ConnectionState returns the socket's state; ConnectionClosed for an
// invalid handle.
func (s Sockets) ConnectionState(sock StreamSocket) ConnectionState { return s.l.sockState(sock.h) }

// LocalAddress returns the address the socket is bound to.
func (s Sockets) LocalAddress(sock SocketHandle) (Addr, error) {
	return s.l.sockAddress(socketRaw(sock), false)
}

// RemoteAddress returns the address of the connected peer.
func (s Sockets) RemoteAddress(sock SocketHandle) (Addr, error) {
	return s.l.sockAddress(socketRaw(sock), true)
}

// SetTCPNoDelay sets TCP_NODELAY (see SocketOptionNoDelay).
func (s Sockets) SetTCPNoDelay(sock StreamSocket, enable bool) error {
	return s.l.sockSetOption(sock.h, SocketOptionNoDelay, enable)
}

// SetKeepAlive sets SO_KEEPALIVE.
func (s Sockets) SetKeepAlive(sock StreamSocket, enable bool) error {
	return s.l.sockSetOption(sock.h, SocketOptionKeepAlive, enable)
}

// SetKeepAliveParams enables keep-alive and sets its timing: idle, how long
// the connection is idle before the first probe; interval, the time between
// probes; probes, how many unanswered probes drop the connection. A zero
// leaves that value as it is (on a new socket, the system's default).
// Durations are rounded up to whole seconds (500ms gives 1 s).
//
// Each value must lie in the range the system takes: idle and interval up
// to 32767 s on Linux and 4294967 s (about 49.7 days) elsewhere, probes up
// to 127 on Linux, 255 on Windows. A negative or larger value (Infinite
// among them) is refused with an error that wraps [ErrOutOfRange] and
// names the range, and nothing is changed; a value is never cut to fit.
//
// OpenBSD sets keep-alive timing only system-wide: there it gives
// ErrNotSupported. Windows before 10 1709 (and Wine 8) sets both times at
// once and no probe count: there a call must give both times and probes 0,
// and any other gets an error that wraps ErrNotSupported.
func (s Sockets) SetKeepAliveParams(sock StreamSocket, idle, interval time.Duration, probes int) error {
	return s.l.sockKeepAliveParams(sock.h, idle, interval, probes)
}

// SetUserTimeout sets TCP_USER_TIMEOUT (RFC 5482): how long sent data may
// stay unacknowledged before the connection is dropped (Linux only; other
// systems give ErrNotSupported). Zero restores the system default. The
// timeout is rounded up to whole milliseconds and must lie between 0 and
// 2147483647 ms (about 24.8 days): a negative or longer one (Infinite
// among them) is refused with an error that wraps [ErrOutOfRange], and the
// option is left as it was.
func (s Sockets) SetUserTimeout(sock StreamSocket, timeout time.Duration) error {
	return s.l.sockUserTimeout(sock.h, timeout)
}

// SetOption turns an option on or off; stream options apply to stream
// sockets, datagram options to datagram sockets.
func (s Sockets) SetOption(sock SocketHandle, opt SocketOption, enable bool) error {
	return s.l.sockSetOption(socketRaw(sock), opt, enable)
}

// Read reads into buf and calls cb with the status and the byte count (see
// [IOMode]). With a zero-length buf and IOModeOnce or IOModeAll it waits
// until data can be read, without reading; its status then does not reliably
// tell a closed connection, which only a real read does.
//
// A read that sees the end of the peer's stream completes with
// IOStatusDisconnected (and the bytes read so far) and moves the socket to
// ConnectionPassiveClose (ConnectionClosed if we had shut down writing).
// After our side shut down reading, a read completes with
// IOStatusDisconnected and 0 bytes before Read returns. Only one read may be
// pending: a second gets IOStatusBusy. cb may run before Read returns.
func (s Sockets) Read(sock StreamSocket, buf []byte, mode IOMode, cb IOCallback) {
	s.l.fdRead(sock.h, kindStreamSocket, buf, mode, cb)
}

// CancelRead cancels the pending read, if any: its callback will not run.
// Bytes it has already read into the buffer are lost to the caller.
func (s Sockets) CancelRead(sock StreamSocket) { s.l.fdCancel(sock.h, kindStreamSocket, false) }

// Write writes buf and calls cb with the status and the byte count (see
// [IOMode]). The driver keeps buf until cb runs: the caller must not change
// it meanwhile. After our side shut down writing, a write completes with
// IOStatusDisconnected and 0 bytes. Only one write may be pending (a read
// may be pending at the same time): a second gets IOStatusBusy. cb may run
// before Write returns.
func (s Sockets) Write(sock StreamSocket, buf []byte, mode IOMode, cb IOCallback) {
	s.l.fdWrite(sock.h, kindStreamSocket, buf, mode, cb)
}

// CancelWrite cancels the pending write, if any: its callback will not run.
// Part of the buffer may already have been sent.
func (s Sockets) CancelWrite(sock StreamSocket) { s.l.fdCancel(sock.h, kindStreamSocket, true) }

// ReadLoaned waits for data, reads it into a buffer the loop lends, and
// calls cb with it: the bytes one read got, at least one and at most the
// loan size ([WithLoanSize]). The connection holds no buffer while it
// waits, which is what makes this the read for servers with many idle
// connections. data is valid only until cb returns (see [LoanCallback]):
// in particular, a Write of data that does not complete before cb returns
// must be given a copy of what remains. A loaned read is the socket's one
// pending read, as for Read (a second read gets IOStatusBusy); CancelRead
// cancels it, and the end of the peer's stream or our shutdown complete it
// as they complete Read, with nil data. cb may run before ReadLoaned
// returns.
func (s Sockets) ReadLoaned(sock StreamSocket, cb LoanCallback) { s.l.loanRead(sock.h, cb) }

// TakeLoan, called from a [LoanCallback], gives the caller the buffer that
// callback's data lies in, from data's first byte: it stays valid after the
// callback returns and belongs to the caller from then on, and the loop
// lends another buffer to later reads. Its capacity may be just len(data):
// on io_uring, where buffers are shared by the pieces of many receives, it
// is data itself. It returns nil when no LoanCallback runs.
func (s Sockets) TakeLoan() []byte { return s.l.takeLoan() }

// WaitForData calls cb once data (or the end of the stream) can be read,
// without reading: Read with an empty buffer and IOModeOnce.
func (s Sockets) WaitForData(sock StreamSocket, cb IOCallback) {
	s.l.fdRead(sock.h, kindStreamSocket, nil, IOModeOnce, cb)
}

// Shutdown shuts down reading, writing or both, in one call or several.
// Shutting down writing sends the end of our stream to the peer; shutting
// down reading drops what the peer sends from then on. The operations
// pending in a direction shut down complete with IOStatusDisconnected
// before Shutdown returns, and later ones (those their callbacks start
// included) complete so at once, with 0 bytes and LastError ErrClosed.
//
// The state follows what still flows (see [ConnectionState]): writing shut
// down moves a connected socket to ConnectionActiveClose, reading shut down
// to ConnectionPassiveClose (as the end of the peer's stream does), and
// both, in either order, or one after the peer's end of stream, to
// ConnectionClosed.
func (s Sockets) Shutdown(sock StreamSocket, read, write bool) error {
	return s.l.sockShutdown(sock.h, read, write)
}

// CreateDatagramSocket creates a datagram socket bound to bind (unless bind
// is the zero Addr) and, if target is not the zero Addr, connected to
// target: Send with the zero Addr then sends there, and only datagrams from
// target are received.
func (s Sockets) CreateDatagramSocket(bind, target Addr, opts DatagramCreateOptions) (DatagramSocket, error) {
	h, err := s.l.dgramCreate(bind, target, opts)
	return DatagramSocket{h}, err
}

// AdoptDatagramSocket takes over fd, a bound datagram socket. It is switched
// to non-blocking mode; the driver closes it when the last reference is
// released. It fails with ErrAlreadyRegistered if the driver already owns fd.
func (s Sockets) AdoptDatagramSocket(fd uintptr) (DatagramSocket, error) {
	h, err := s.l.sockAdopt(fd, kindDatagramSocket)
	return DatagramSocket{h}, err
}

// SetTargetAddress connects the socket to target (see
// CreateDatagramSocket); the zero Addr dissolves the association.
func (s Sockets) SetTargetAddress(sock DatagramSocket, target Addr) error {
	return s.l.dgramSetTarget(sock.h, target)
}

// SetBroadcast sets SO_BROADCAST.
func (s Sockets) SetBroadcast(sock DatagramSocket, enable bool) error {
	return s.l.sockSetOption(sock.h, SocketOptionBroadcast, enable)
}

// JoinMulticastGroup joins the multicast group on the interface of index
// ifIndex (0: the system's choice). An ifIndex above math.MaxInt32, which
// no system's interface has, is refused with [ErrOutOfRange]; so it is for
// LeaveMulticastGroup and SetMulticastInterface.
func (s Sockets) JoinMulticastGroup(sock DatagramSocket, group Addr, ifIndex uint32) error {
	return s.l.dgramMulticast(sock.h, mcastJoin, group, int64(ifIndex))
}

// LeaveMulticastGroup leaves a group joined with JoinMulticastGroup.
func (s Sockets) LeaveMulticastGroup(sock DatagramSocket, group Addr, ifIndex uint32) error {
	return s.l.dgramMulticast(sock.h, mcastLeave, group, int64(ifIndex))
}

// SetMulticastInterface chooses the interface, by index, that multicast
// datagrams are sent from.
func (s Sockets) SetMulticastInterface(sock DatagramSocket, ifIndex uint32) error {
	return s.l.dgramMulticast(sock.h, mcastInterface, Addr{}, int64(ifIndex))
}

// SetMulticastTTL sets the time-to-live (hop limit) of multicast datagrams
// sent; 0 keeps them on this host. ttl must lie between 0 and 255: any
// other value is refused with an error that wraps [ErrOutOfRange].
func (s Sockets) SetMulticastTTL(sock DatagramSocket, ttl int) error {
	return s.l.dgramMulticast(sock.h, mcastTTL, Addr{}, int64(ttl))
}

// Receive receives one datagram into buf and calls cb with its length and
// sender. A datagram longer than buf fills buf and completes with
// IOStatusTruncated (on every driver, for UDP and Unix-domain datagram
// sockets alike): the rest of it is discarded. With a
// zero-length buf and IOModeOnce or IOModeAll it waits until a datagram can
// be received, without receiving it. IOModeImmediate completes with
// IOStatusWouldBlock if none is queued. Only one receive may be pending.
// cb may run before Receive returns.
func (s Sockets) Receive(sock DatagramSocket, buf []byte, mode IOMode, cb DatagramIOCallback) {
	s.l.dgramReceive(sock.h, buf, mode, cb)
}

// CancelReceive cancels the pending receive, if any: its callback will not
// run.
func (s Sockets) CancelReceive(sock DatagramSocket) {
	s.l.fdCancel(sock.h, kindDatagramSocket, false)
}

// Send sends buf as one datagram to to, or to the connected target if to is
// the zero Addr, and calls cb. IOModeImmediate completes with
// IOStatusWouldBlock if the socket's buffer is full; the other modes wait
// for room. Only one send may be pending. cb may run before Send returns.
func (s Sockets) Send(sock DatagramSocket, buf []byte, mode IOMode, to Addr, cb DatagramIOCallback) {
	s.l.dgramSend(sock.h, buf, mode, to, cb)
}

// CancelSend cancels the pending send, if any: its callback will not run.
func (s Sockets) CancelSend(sock DatagramSocket) { s.l.fdCancel(sock.h, kindDatagramSocket, true) }

// AddRef adds a reference to the socket.
func (s Sockets) AddRef(sock SocketHandle) { s.l.sockAddRef(socketRaw(sock)) }

// ReleaseRef drops a reference; the last one closes the socket, cancelling
// its pending operations (their callbacks do not run). It reports whether
// the socket is still alive: false when this call freed it or the handle
// was invalid.
func (s Sockets) ReleaseRef(sock SocketHandle) bool { return s.l.sockRelease(socketRaw(sock)) }

type mcastOp uint8

const (
	mcastJoin mcastOp = iota
	mcastLeave
	mcastInterface
	mcastTTL
)

// socketRaw unwraps a SocketHandle with a type switch rather than a method
// call, so that passing a handle as a SocketHandle does not make it escape
// (and allocate).
func socketRaw(s SocketHandle) handle {
	switch v := s.(type) {
	case StreamSocket:
		return v.h
	case StreamListener:
		return v.h
	case DatagramSocket:
		return v.h
	}
	return 0
}

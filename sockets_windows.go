package eventcore

import (
	"errors"
	"fmt"
	"syscall"
	"unsafe"

	"golang.org/x/sys/windows"
)

// Sockets on the winapi driver. The I/O state machines are the shared ones
// (fdio.go); this file supplies the Winsock calls they make, the
// overlapped operations that wait for a socket when a call would block
// (loop_windows.go explains the design), and connect, accept, options,
// adoption and closing.

// sysFD is a SOCKET; fdSys holds the socket's overlapped operations in
// flight, each nil when there is none.
type sysFD = windows.Handle

const invalidFD = windows.InvalidHandle

type fdSys struct {
	rdWait *winOp // zero-byte receive: completes when data can be read
	wrOp   *winOp // send of what did not fit at once, or ConnectEx
	accOp  *winOp // listener: AcceptEx
	pipe   bool   // a pipe HANDLE, not a SOCKET
}

var (
	errWouldBlock error = windows.WSAEWOULDBLOCK
	errNotConn    error = windows.WSAENOTCONN
)

// isDisconnect tells the errors that end a connection.
func isDisconnect(err error) bool {
	switch err {
	case windows.WSAECONNRESET, windows.WSAECONNABORTED, windows.WSAENOTCONN, windows.WSAESHUTDOWN,
		windows.WSAETIMEDOUT, windows.WSAENETRESET, windows.WSAEHOSTUNREACH, windows.WSAENETUNREACH,
		windows.ERROR_NETNAME_DELETED, windows.ERROR_CONNECTION_ABORTED,
		windows.ERROR_BROKEN_PIPE, windows.ERROR_NO_DATA, windows.ERROR_PIPE_NOT_CONNECTED:
		return true
	}
	return false
}

// wsaErrno normalizes the error of a completed overlapped operation to the
// Winsock code the synchronous calls report for the same condition.
func wsaErrno(err error) syscall.Errno {
	var e syscall.Errno
	if !errors.As(err, &e) {
		return windows.WSAEINVAL
	}
	switch e {
	case windows.ERROR_CONNECTION_REFUSED:
		return windows.WSAECONNREFUSED
	case windows.ERROR_NETNAME_DELETED, windows.ERROR_CONNECTION_ABORTED:
		return windows.WSAECONNRESET
	case windows.ERROR_NETWORK_UNREACHABLE:
		return windows.WSAENETUNREACH
	case windows.ERROR_HOST_UNREACHABLE:
		return windows.WSAEHOSTUNREACH
	case windows.ERROR_SEM_TIMEOUT:
		return windows.WSAETIMEDOUT
	}
	return e
}

// noteRead: the readiness drivers' bookkeeping of what reads found
// (fdio_posix.go) has no counterpart here.
func (l *loop) noteRead(handle, *entry[fdObj], int, int, error) {}

func (l *loop) sysRead(h handle, e *entry[fdObj], p []byte) (int, error) {
	if h.kind() == kindPipe {
		return l.pipeRead(e, p)
	}
	return sysRecv(e.v.fd, p, 0)
}

// sysWrite is send; writes to a socket whose peer is gone fail with
// WSAECONNRESET or WSAECONNABORTED: Windows has no SIGPIPE. A pipe has no
// non-blocking write: its writes always go to WriteFileEx (awaitWrite).
func (l *loop) sysWrite(h handle, e *entry[fdObj], p []byte) (int, error) {
	if h.kind() == kindPipe {
		return 0, errWouldBlock
	}
	return sysSend(e.v.fd, p)
}

// writeMode: a pipe's write cannot tell whether it would block before it
// is made, so IOModeImmediate writes to a pipe behave as IOModeOnce.
func (l *loop) writeMode(h handle, m IOMode) IOMode {
	if h.kind() == kindPipe && m == IOModeImmediate {
		return IOModeOnce
	}
	return m
}

func sysShutdown(s sysFD, read, write bool) error {
	how := sdBoth
	switch {
	case read && !write:
		how = sdReceive
	case write && !read:
		how = sdSend
	}
	if err := windows.Shutdown(s, how); err != nil && err != windows.WSAENOTCONN {
		return err
	}
	return nil
}

// sysSocket creates an overlapped, non-inheritable socket. Without
// Unix-domain support in the system (Windows before 10 1803, Wine 8) an
// AF_UNIX socket fails with ErrNotSupported, wrapping the system's error.
func sysSocket(family uint16, typ int32) (windows.Handle, error) {
	s, err := windows.WSASocket(int32(family), typ, 0, nil, 0, windows.WSA_FLAG_OVERLAPPED|windows.WSA_FLAG_NO_HANDLE_INHERIT)
	if err == windows.WSAEINVAL {
		// Systems before Windows 7 SP1 lack WSA_FLAG_NO_HANDLE_INHERIT.
		if s, err = windows.WSASocket(int32(family), typ, 0, nil, 0, windows.WSA_FLAG_OVERLAPPED); err == nil {
			windows.SetHandleInformation(s, windows.HANDLE_FLAG_INHERIT, 0)
		}
	}
	if err != nil {
		if family == afUnix && (err == windows.WSAEAFNOSUPPORT || err == windows.WSAEPROTONOSUPPORT ||
			err == windows.WSAESOCKTNOSUPPORT || err == windows.WSAEPFNOSUPPORT) {
			return windows.InvalidHandle, fmt.Errorf("%w: Unix-domain sockets of this type: %w", ErrNotSupported, err)
		}
		return windows.InvalidHandle, err
	}
	return s, nil
}

func flagsOf(family uint16) fdFlags {
	switch family {
	case afUnix:
		return fdUnix
	case afInet6:
		return fdIPv6
	}
	return 0
}

// newFD registers s under a new handle of kind k.
func (l *loop) newFD(k kind, s windows.Handle, flags fdFlags) (handle, *entry[fdObj], error) {
	h, e := l.fds.alloc(k)
	if e == nil {
		return 0, nil, ErrTooManyHandles
	}
	e.v.fd = s
	e.v.flags = flags
	l.bySock[s] = h
	return h, e, nil
}

// orphan detaches op from its socket: its completion, when the kernel
// reports it, only returns it to the pool. cancel asks the kernel to
// complete it now and, if the op uses a caller's buffer (a send, a file
// transfer), waits until the kernel is done with it: after a cancel the
// caller may reuse its buffer at once.
func (l *loop) orphan(s windows.Handle, op **winOp, cancel bool) {
	if *op == nil {
		return
	}
	(*op).h = 0
	if cancel && s != windows.InvalidHandle {
		windows.CancelIoEx(s, &(*op).ov)
		if (*op).keep != nil {
			awaitKernel(*op)
		}
	}
	*op = nil
}

// closeSysFD closes the socket or pipe of e, leaving the entry. Its
// overlapped operations are cancelled first, their completions reaped
// later: closesocket is documented to cancel them, but Wine leaves a
// pending send in place, and the socket open with it for as long as the
// peer takes nothing.
func (l *loop) closeSysFD(e *entry[fdObj]) error {
	if e.v.fd == invalidFD {
		return nil
	}
	s := l.detachSysFD(e)
	if e.v.sys.pipe {
		return windows.CloseHandle(s)
	}
	return windows.Closesocket(s)
}

// detachSysFD cancels the overlapped operations of e's open socket or
// pipe, forgets it and takes it from e, leaving it open.
func (l *loop) detachSysFD(e *entry[fdObj]) sysFD {
	s := e.v.fd
	l.orphan(s, &e.v.sys.rdWait, true)
	l.orphan(s, &e.v.sys.wrOp, true)
	l.orphan(s, &e.v.sys.accOp, true)
	delete(l.bySock, s)
	e.v.fd = invalidFD
	return s
}

func (l *loop) syncInterest(handle) {}

// cancelSys drops the overlapped operation serving the pending read or
// write of e, which is ending without it.
func (l *loop) cancelSys(e *entry[fdObj], write bool) {
	if write {
		l.orphan(e.v.fd, &e.v.sys.wrOp, true)
	} else {
		l.orphan(e.v.fd, &e.v.sys.rdWait, true)
	}
}

func (l *loop) writeInFlight(e *entry[fdObj]) bool { return e.v.sys.wrOp != nil }

// readable reports whether a read on e would not block: a one-byte peek
// finds data, the end of the stream, or a datagram (which a one-byte
// buffer truncates: WSAEMSGSIZE).
func (l *loop) readable(h handle, e *entry[fdObj]) (bool, error) {
	if h.kind() == kindPipe {
		avail, err := pipeAvailable(e.v.fd)
		if isDisconnect(err) {
			return true, nil // the read that follows sees the end
		}
		return avail > 0, err
	}
	_, err := sysRecv(e.v.fd, l.peek[:], windows.MSG_PEEK)
	switch err {
	case nil, windows.WSAEMSGSIZE:
		return true, nil
	case windows.WSAEWOULDBLOCK:
		return false, nil
	}
	if isDisconnect(err) {
		return true, nil // the read that follows reports it
	}
	return false, err
}

// readEmpty: a Windows loop does not know, without asking, that a read
// would find nothing.
func (l *loop) readEmpty(handle, *entry[fdObj]) bool { return false }

// awaitRead starts a zero-byte receive, which completes when data (or the
// end of the stream, or an error) is there without taking any of it; for a
// datagram socket it peeks, since a zero-byte receive would consume the
// datagram.
func (l *loop) awaitRead(h handle, e *entry[fdObj]) {
	if e.v.sys.rdWait != nil {
		return // one is in flight already
	}
	op := l.newOp(h, opReadWait)
	if h.kind() == kindDatagramSocket {
		op.flags = windows.MSG_PEEK
	}
	var err error
	if h.kind() == kindPipe {
		err = fileEx(procReadFileEx, e.v.fd, nil, &op.ov)
	} else {
		err = wsaRecv(e.v.fd, &op.wsabuf, &op.flags, &op.ov, completionRoutine)
	}
	if err != nil && err != windows.ERROR_IO_PENDING {
		l.putOp(op)
		l.failRead(h, e, err)
		return
	}
	l.started(op)
	e.v.sys.rdWait = op
}

// awaitWrite hands what send did not take to an overlapped send (to to, if
// it is not the zero Addr), keeping the buffer referenced until the kernel
// is done with it.
func (l *loop) awaitWrite(h handle, e *entry[fdObj], to Addr) {
	wr := &e.v.wr
	op := l.newOp(h, opSend)
	rest := wr.buf[wr.done:]
	op.keep = rest
	op.wsabuf = windows.WSABuf{Len: uint32(min(len(rest), maxRW)), Buf: unsafe.SliceData(rest)}
	var err error
	switch {
	case h.kind() == kindPipe:
		err = fileEx(procWriteFileEx, e.v.fd, rest[:op.wsabuf.Len], &op.ov)
	case to.IsZero():
		err = wsaSend(e.v.fd, &op.wsabuf, &op.ov, completionRoutine)
	default:
		var tolen int32
		if tolen, err = encodeSockaddr(to, &op.to); err == nil {
			err = wsaSendTo(e.v.fd, &op.wsabuf, &op.to, tolen, &op.ov, completionRoutine)
		}
	}
	if err != nil && err != windows.ERROR_IO_PENDING {
		l.putOp(op)
		l.failWrite(h, e, err)
		return
	}
	l.started(op)
	e.v.sys.wrOp = op
}

func (l *loop) failRead(h handle, e *entry[fdObj], err error) {
	if h.kind() != kindDatagramSocket {
		l.complete(h, &e.v.rd, l.streamFailed(e, err), Addr{})
		return
	}
	e.setErr(err)
	l.complete(h, &e.v.rd, IOStatusError, Addr{})
}

func (l *loop) failWrite(h handle, e *entry[fdObj], err error) {
	if h.kind() != kindDatagramSocket {
		l.complete(h, &e.v.wr, l.streamFailed(e, err), Addr{})
		return
	}
	e.setErr(err)
	l.complete(h, &e.v.wr, IOStatusError, e.v.ext.to)
}

// finishOp acts on a completed overlapped operation; it reports whether
// the operation still served one of the caller's.
func (l *loop) finishOp(op *winOp) bool {
	switch op.kind {
	case opFileRead, opFileWrite:
		return l.fileDone(op)
	case opWatch:
		return l.watchDone(op)
	case opWatchParent:
		return l.watchParentDone(op)
	}
	e := l.fdEntry(op.h)
	if op.h == 0 || e == nil {
		l.putOp(op)
		return false
	}
	h := op.h
	var status error // boxed only when needed: boxing an Errno allocates
	if op.err != 0 && op.kind != opReadWait {
		status = wsaErrno(syscall.Errno(op.err))
	}
	switch op.kind {
	case opReadWait:
		e.v.sys.rdWait = nil
		l.putOp(op)
		if !e.v.rd.active {
			return false
		}
		// Read now; if data is still not there (another reader was
		// quicker), the service waits again.
		l.serviceRead(h, e)
	case opSend:
		e.v.sys.wrOp = nil
		n := int(op.n)
		l.putOp(op)
		if !e.v.wr.active {
			return false
		}
		switch {
		case status != nil:
			l.failWrite(h, e, status)
		case h.kind() == kindDatagramSocket:
			e.v.wr.done = n
			l.complete(h, &e.v.wr, IOStatusOK, e.v.ext.to)
		case !l.wrote(h, &e.v.wr, n):
			l.serviceStreamWrite(h, e)
		}
	case opConnect:
		e.v.sys.wrOp = nil
		l.putOp(op)
		l.finishConnect(h, e, status)
	case opAccept:
		e.v.sys.accOp = nil
		l.finishAccept(h, e, op, status)
	}
	return true
}

// serviceAll runs the pending operations of a deferred handle.
func (l *loop) serviceAll(h handle) {
	if h.kind() == kindFile {
		l.fileService(h)
		return
	}
	e := l.fdEntry(h)
	if e == nil {
		return
	}
	if e.v.rd.active {
		l.serviceRead(h, e)
		if e = l.fdEntry(h); e == nil {
			return
		}
	}
	if e.v.wr.active && e.v.state != ConnectionConnecting {
		switch h.kind() {
		case kindStreamSocket:
			l.serviceStreamWrite(h, e)
		case kindDatagramSocket:
			l.serviceSend(h, e)
		}
	}
}

// ---- stream sockets ----

// Unix-domain connects are made synchronously: Windows's ConnectEx does
// not take AF_UNIX, and a local connect does not wait on the network.
func (l *loop) sockConnect(peer, bind Addr, cb ConnectCallback) StreamSocket {
	if l.disposed {
		l.callConnect(cb, 0, ConnectStatusSocketCreateFailure)
		return StreamSocket{}
	}
	h, e := l.fds.alloc(kindStreamSocket)
	if e == nil {
		l.callConnect(cb, 0, ConnectStatusSocketCreateFailure)
		return StreamSocket{}
	}
	e.v.fd = invalidFD
	e.v.state = ConnectionClosed
	op := l.newOp(h, opConnect)
	salen, err := encodeSockaddr(peer, &op.to)
	if err != nil {
		l.putOp(op)
		return l.connectFailed(h, e, cb, ConnectStatusUnknownError, err)
	}
	family := op.to.family()
	// The bind address is converted before the socket is made too: a bad
	// one creates nothing.
	var blen int32
	if !bind.IsZero() {
		blen, err = encodeSockaddr(bind, &l.rsa)
		if err == nil && l.rsa.family() != family {
			err = ErrInvalidAddress
		}
		if err != nil {
			l.putOp(op)
			return l.connectFailed(h, e, cb, ConnectStatusBindFailure, err)
		}
	}
	s, err := sysSocket(family, windows.SOCK_STREAM)
	if err != nil {
		l.putOp(op)
		return l.connectFailed(h, e, cb, ConnectStatusSocketCreateFailure, err)
	}
	e.v.fd = s
	e.v.flags = flagsOf(family)
	l.bySock[s] = h
	if !bind.IsZero() {
		if err := sysBind(s, &l.rsa, blen); err != nil {
			l.putOp(op)
			return l.connectFailed(h, e, cb, ConnectStatusBindFailure, err)
		}
	} else if family != afUnix {
		// ConnectEx wants a bound socket: the wildcard address, port 0.
		l.rsa = rawSockaddr{}
		blen := sizeofSockaddrIn
		if family == afInet6 {
			blen = sizeofSockaddrIn6
		}
		*(*uint16)(l.rsa.ptr()) = family
		if err := sysBind(s, &l.rsa, blen); err != nil {
			l.putOp(op)
			return l.connectFailed(h, e, cb, ConnectStatusBindFailure, err)
		}
	}
	if family == afUnix {
		err := sysConnect(s, &op.to, salen)
		l.putOp(op)
		if err == nil {
			err = sysSetNonblock(s)
		}
		if err != nil {
			return l.connectFailed(h, e, cb, connectStatusOf(err), err)
		}
		e.v.state = ConnectionConnected
		l.callConnect(cb, h, ConnectStatusConnected)
		return StreamSocket{h}
	}
	setBoolOpt(s, optNoDelay, true)
	if err := sysSetNonblock(s); err != nil {
		l.putOp(op)
		return l.connectFailed(h, e, cb, ConnectStatusSocketCreateFailure, err)
	}
	e.v.state = ConnectionConnecting
	op.ov.HEvent = l.handles[ioEvent]
	if err := sysConnectEx(s, &op.to, salen, &op.ov); err != nil && err != windows.ERROR_IO_PENDING {
		l.putOp(op)
		return l.connectFailed(h, e, cb, connectStatusOf(err), err)
	}
	l.started(op)
	e.v.sys.wrOp = op
	l.arm(&e.v.wr, ioOp{cb: cb})
	return StreamSocket{h}
}

func connectStatusOf(err error) ConnectStatus {
	switch err {
	case windows.WSAECONNREFUSED, windows.WSAECONNRESET, windows.ERROR_FILE_NOT_FOUND, windows.ERROR_PATH_NOT_FOUND:
		return ConnectStatusRefused
	case windows.WSAETIMEDOUT:
		return ConnectStatusTimeout
	case windows.WSAENETUNREACH, windows.WSAEHOSTUNREACH, windows.WSAENETDOWN, windows.WSAEHOSTDOWN:
		return ConnectStatusUnreachable
	}
	return ConnectStatusUnknownError
}

func (l *loop) finishConnect(h handle, e *entry[fdObj], status error) {
	cb, _ := l.disarm(&e.v.wr).cb.(ConnectCallback)
	if status != nil {
		l.connectFailed(h, e, cb, connectStatusOf(status), status)
		return
	}
	// Without it getpeername, shutdown and friends fail on the socket.
	windows.Setsockopt(e.v.fd, windows.SOL_SOCKET, windows.SO_UPDATE_CONNECT_CONTEXT, nil, 0)
	if selfConnected(e) {
		l.connectFailed(h, e, cb, ConnectStatusRefused, windows.WSAECONNREFUSED)
		return
	}
	e.v.state = ConnectionConnected
	l.callConnect(cb, h, ConnectStatusConnected)
}

// ListenReuseAddress is not passed on: Windows lets a listener bind while
// old connections to its address linger anyway, and its SO_REUSEADDR means
// something else (binding an address another socket is using).
// ListenReusePort and ListenIPTransparent have no Windows equivalent.
func (l *loop) sockListen(bind Addr, opts StreamListenOptions, cb AcceptCallback) (handle, error) {
	if l.disposed {
		return 0, ErrDisposed
	}
	if opts&(ListenReusePort|ListenIPTransparent) != 0 {
		return 0, ErrNotSupported
	}
	salen, err := encodeSockaddr(bind, &l.rsa)
	if err != nil {
		return 0, err
	}
	family := l.rsa.family()
	s, err := sysSocket(family, windows.SOCK_STREAM)
	if err != nil {
		return 0, err
	}
	if family != afUnix {
		// Accepted connections inherit it (SO_UPDATE_ACCEPT_CONTEXT).
		setBoolOpt(s, optNoDelay, true)
	}
	if err := sysBind(s, &l.rsa, salen); err != nil {
		windows.Closesocket(s)
		return 0, err
	}
	if err := windows.Listen(s, windows.SOMAXCONN); err != nil {
		windows.Closesocket(s)
		return 0, err
	}
	if err := sysSetNonblock(s); err != nil {
		windows.Closesocket(s)
		return 0, err
	}
	h, e, err := l.newFD(kindStreamListener, s, flagsOf(family))
	if err != nil {
		windows.Closesocket(s)
		return 0, err
	}
	e.v.state = ConnectionConnected
	if p := bind.Path(); family == afUnix && p != "" && !(abstractUnixPaths && p[0] == '@') {
		e.v.ext = &fdExt{unlink: p}
	}
	if cb != nil {
		l.arm(&e.v.rd, ioOp{cb: cb})
		l.postAccept(h, e)
	}
	return h, nil
}

func (l *loop) sockWaitForConnections(h handle, cb AcceptCallback) bool {
	e := l.fds.get(h, kindStreamListener)
	if e == nil {
		return false
	}
	if cb == nil {
		if e.v.rd.active {
			l.disarm(&e.v.rd)
			l.orphan(e.v.fd, &e.v.sys.accOp, true)
		}
		return true
	}
	l.arm(&e.v.rd, ioOp{cb: cb})
	// Connections may have queued while no one waited: take them from the
	// loop, then wait for more.
	l.deferService(h)
	return true
}

// serviceAccept accepts the connections that are queued (a batch at most,
// then it defers itself), then leaves an AcceptEx waiting for the next.
func (l *loop) serviceAccept(h handle, e *entry[fdObj]) {
	if e.v.sys.accOp != nil || e.v.flags&fdPaused != 0 {
		return // an AcceptEx is waiting (it takes the queued connections first), or a backoff
	}
	for range maxAcceptBatch {
		s, salen, err := sysAccept(e.v.fd, &l.rsa)
		switch err {
		case nil:
			acceptSucceeded(e)
		case windows.WSAEWOULDBLOCK:
			l.postAccept(h, e)
			return
		case windows.WSAECONNRESET, windows.WSAECONNABORTED:
			continue
		default:
			// WSAEMFILE, WSAENOBUFS: the connection stays queued.
			e.setErr(err)
			l.acceptPause(h, e)
			return
		}
		if e = l.accepted(h, e, s, decodeSockaddr(&l.rsa, salen, nil)); e == nil {
			return
		}
	}
	l.deferService(h)
}

// accepted hands the new connection s to the listener's callback; it
// returns the listener's entry if it still waits for connections.
func (l *loop) accepted(h handle, e *entry[fdObj], s windows.Handle, remote Addr) *entry[fdObj] {
	flags := e.v.flags & (fdUnix | fdIPv6)
	if err := sysSetNonblock(s); err != nil {
		windows.Closesocket(s)
		e.setErr(err)
		return e
	}
	sh, se, err := l.newFD(kindStreamSocket, s, flags)
	if err != nil {
		windows.Closesocket(s)
		e.setErr(err)
		return e
	}
	se.v.state = ConnectionConnected
	cb, _ := e.v.rd.cb.(AcceptCallback)
	l.depth++
	cb(StreamListener{h}, StreamSocket{sh}, remote)
	l.depth--
	if e = l.fds.get(h, kindStreamListener); e == nil || !e.v.rd.active {
		return nil
	}
	return e
}

// postAccept leaves an AcceptEx waiting on the listener, into a socket
// made for it.
func (l *loop) postAccept(h handle, e *entry[fdObj]) {
	if e.v.sys.accOp != nil {
		return
	}
	family := uint16(afInet)
	switch {
	case e.v.flags&fdUnix != 0:
		family = afUnix
	case e.v.flags&fdIPv6 != 0:
		family = afInet6
	}
	s, err := sysSocket(family, windows.SOCK_STREAM)
	if err != nil {
		// Without a socket no AcceptEx waits: retry after a backoff.
		e.setErr(err)
		l.acceptPause(h, e)
		return
	}
	op := l.newOp(h, opAccept)
	op.sock = s
	op.ov.HEvent = l.handles[ioEvent]
	half := uint32(len(op.abuf) / 2)
	var got uint32
	err = windows.AcceptEx(e.v.fd, s, &op.abuf[0], 0, half, half, &got, &op.ov)
	if err != nil && err != windows.ERROR_IO_PENDING {
		l.putOp(op)
		e.setErr(err)
		l.acceptPause(h, e)
		return
	}
	l.started(op)
	e.v.sys.accOp = op
}

func (l *loop) finishAccept(h handle, e *entry[fdObj], op *winOp, status error) {
	if !e.v.rd.active {
		l.putOp(op)
		return
	}
	if status != nil {
		e.setErr(status)
		l.putOp(op)
		switch status {
		case windows.WSAECONNRESET, windows.WSAECONNABORTED, windows.ERROR_NETNAME_DELETED:
			// A connection reset before it was accepted: take the next.
			l.serviceAccept(h, e)
		default:
			// A failure of the listener or of the system: retrying at
			// once could fail the same way forever.
			l.acceptPause(h, e)
		}
		return
	}
	s := op.sock
	op.sock = windows.InvalidHandle
	ls := e.v.fd
	windows.Setsockopt(s, windows.SOL_SOCKET, windows.SO_UPDATE_ACCEPT_CONTEXT,
		(*byte)(unsafe.Pointer(&ls)), int32(unsafe.Sizeof(ls)))
	var local, remote *windows.RawSockaddrAny
	var llen, rlen int32
	half := uint32(len(op.abuf) / 2)
	windows.GetAcceptExSockaddrs(&op.abuf[0], 0, half, half, &local, &llen, &remote, &rlen)
	var from Addr
	if remote != nil && rlen > 0 && rlen <= sizeofRawSockaddr {
		copy(unsafe.Slice((*byte)(l.rsa.ptr()), rlen), unsafe.Slice((*byte)(unsafe.Pointer(remote)), rlen))
		from = decodeSockaddr(&l.rsa, rlen, nil)
	}
	l.putOp(op)
	if e = l.accepted(h, e, s, from); e != nil {
		l.serviceAccept(h, e)
	}
}

// ---- datagram sockets ----

func (l *loop) dgramCreate(bind, target Addr, opts DatagramCreateOptions) (handle, error) {
	if l.disposed {
		return 0, ErrDisposed
	}
	if opts&DatagramReusePort != 0 {
		return 0, ErrNotSupported
	}
	// Both addresses are checked before the socket is made: a bad one
	// binds nothing.
	var family uint16
	for _, a := range [2]Addr{bind, target} {
		if a.IsZero() {
			continue
		}
		if _, err := encodeSockaddr(a, &l.rsa); err != nil {
			return 0, err
		}
		if family != 0 && l.rsa.family() != family {
			return 0, ErrInvalidAddress
		}
		family = l.rsa.family()
	}
	if family == 0 {
		return 0, ErrInvalidAddress
	}
	s, err := sysSocket(family, windows.SOCK_DGRAM)
	if err != nil {
		return 0, err
	}
	if err := l.dgramSetup(s, bind, target, family, opts); err != nil {
		windows.Closesocket(s)
		return 0, err
	}
	h, e, err := l.newFD(kindDatagramSocket, s, flagsOf(family))
	if err != nil {
		windows.Closesocket(s)
		return 0, err
	}
	e.v.ext = &fdExt{}
	return h, nil
}

func (l *loop) dgramSetup(s windows.Handle, bind, target Addr, family uint16, opts DatagramCreateOptions) error {
	if opts&DatagramReuseAddress != 0 {
		if err := setBoolOpt(s, optReuseAddress, true); err != nil {
			return err
		}
	}
	if opts&DatagramBroadcast != 0 {
		if err := setBoolOpt(s, optBroadcast, true); err != nil {
			return err
		}
	}
	if family != afUnix {
		// Windows reports an ICMP port-unreachable answer to an earlier
		// datagram as WSAECONNRESET on the next receive, even on an
		// unconnected socket; turn that off, as Linux does.
		off := uint32(0)
		var n uint32
		windows.WSAIoctl(s, windows.SIO_UDP_CONNRESET, (*byte)(unsafe.Pointer(&off)), 4, nil, 0, &n, nil, 0)
	}
	if err := sysSetNonblock(s); err != nil {
		return err
	}
	for i, a := range [2]Addr{bind, target} {
		if a.IsZero() {
			continue
		}
		salen, err := encodeSockaddr(a, &l.rsa)
		if err == nil && i == 0 {
			err = sysBind(s, &l.rsa, salen)
		} else if err == nil {
			err = sysConnect(s, &l.rsa, salen)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// dgramSetTarget connects the socket, or, for the zero Addr, dissolves
// the association: by connecting to an AF_UNSPEC address (Wine passes that
// on to the host, as POSIX spells it), or else to the all-zero address of
// the socket's family (as Winsock documents it).
func (l *loop) dgramSetTarget(h handle, target Addr) error {
	e := l.fds.get(h, kindDatagramSocket)
	if e == nil {
		return ErrInvalidHandle
	}
	var err error
	if target.IsZero() {
		l.rsa = rawSockaddr{}
		if err = sysConnect(e.v.fd, &l.rsa, sizeofSockaddrIn); err != nil {
			salen, family := sizeofSockaddrIn, uint16(afInet)
			if e.v.flags&fdIPv6 != 0 {
				family, salen = afInet6, sizeofSockaddrIn6
			}
			*(*uint16)(l.rsa.ptr()) = family
			err = sysConnect(e.v.fd, &l.rsa, salen)
		}
	} else {
		var salen int32
		if salen, err = encodeSockaddr(target, &l.rsa); err == nil {
			err = sysConnect(e.v.fd, &l.rsa, salen)
		}
	}
	if err != nil {
		e.setErr(err)
	}
	return err
}

// ---- any socket ----

func (l *loop) sockAdopt(fd uintptr, k kind) (handle, error) {
	if l.disposed {
		return 0, ErrDisposed
	}
	s := windows.Handle(fd)
	if _, ok := l.bySock[s]; ok {
		return 0, ErrAlreadyRegistered
	}
	typ, err := windows.GetsockoptInt(s, windows.SOL_SOCKET, soType)
	if err != nil {
		return 0, err
	}
	want := windows.SOCK_STREAM
	if k == kindDatagramSocket {
		want = windows.SOCK_DGRAM
	}
	if typ != want {
		return 0, windows.WSAEPROTOTYPE
	}
	// A stream socket must be connected (getpeername), a datagram socket
	// bound (getsockname fails with WSAEINVAL on an unbound socket).
	var rsa rawSockaddr
	if _, err := sysSockname(s, &rsa, k == kindStreamSocket); err != nil {
		return 0, err
	}
	flags := flagsOf(rsa.family())
	if err := sysSetNonblock(s); err != nil {
		return 0, err
	}
	windows.SetHandleInformation(s, windows.HANDLE_FLAG_INHERIT, 0)
	h, e, err := l.newFD(k, s, flags)
	if err != nil {
		return 0, err
	}
	e.v.state = ConnectionConnected
	if k == kindDatagramSocket {
		e.v.ext = &fdExt{}
	}
	return h, nil
}

// sendFirst: a write starts with a non-blocking send, and only what that
// leaves goes to an overlapped send.
func (l *loop) sendFirst(handle, *entry[fdObj]) bool { return false }

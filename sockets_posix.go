//go:build unix

package eventcore

import "golang.org/x/sys/unix"

// Sockets on readiness drivers: creating, connecting, accepting, options
// and addresses. Reads and writes are in fdio.go.

// ---- stream sockets ----

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
	e.v.fd = -1
	e.v.state = ConnectionClosed
	// Both addresses are converted before the socket is made: a bad one
	// creates nothing.
	sa, family, flags, err := sockaddrOf(peer)
	if err != nil {
		return l.connectFailed(h, e, cb, ConnectStatusUnknownError, err)
	}
	var bsa unix.Sockaddr
	if !bind.IsZero() {
		var bfamily int
		bsa, bfamily, _, err = sockaddrOf(bind)
		if err == nil && bfamily != family {
			err = ErrInvalidAddress
		}
		if err != nil {
			return l.connectFailed(h, e, cb, ConnectStatusBindFailure, err)
		}
	}
	fd, err := sysSocket(family, unix.SOCK_STREAM)
	if err != nil {
		return l.connectFailed(h, e, cb, ConnectStatusSocketCreateFailure, err)
	}
	e.v.fd = int32(fd)
	e.v.flags = flags
	if bsa != nil {
		if err := unix.Bind(fd, bsa); err != nil {
			return l.connectFailed(h, e, cb, ConnectStatusBindFailure, err)
		}
	}
	if flags&fdUnix == 0 {
		unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	}
	if err := l.p.add(fd, h); err != nil {
		return l.connectFailed(h, e, cb, ConnectStatusSocketCreateFailure, err)
	}
	l.setByFD(fd, h)
	e.v.state = ConnectionConnecting
	err = unix.Connect(fd, sa)
	if err == nil && selfConnected(e) {
		err = unix.ECONNREFUSED
	}
	switch err {
	case nil:
		e.v.state = ConnectionConnected
		l.callConnect(cb, h, ConnectStatusConnected)
	case unix.EINPROGRESS, unix.EINTR:
		l.arm(&e.v.wr, ioOp{cb: cb})
		l.syncInterest(h)
	default:
		l.connectFailed(h, e, cb, connectStatusOf(err), err)
	}
	return StreamSocket{h}
}

func connectStatusOf(err error) ConnectStatus {
	switch err {
	case unix.ECONNREFUSED, unix.ENOENT, unix.ECONNRESET, unix.EAGAIN:
		return ConnectStatusRefused
	case unix.ETIMEDOUT:
		return ConnectStatusTimeout
	case unix.ENETUNREACH, unix.EHOSTUNREACH, unix.ENETDOWN, unix.EHOSTDOWN:
		return ConnectStatusUnreachable
	}
	return ConnectStatusUnknownError
}

func (l *loop) finishConnect(h handle, e *entry[fdObj]) {
	soerr, err := unix.GetsockoptInt(int(e.v.fd), unix.SOL_SOCKET, unix.SO_ERROR)
	if err == nil && soerr != 0 {
		err = unix.Errno(soerr)
	}
	switch err {
	case unix.EINPROGRESS, unix.EALREADY, unix.EINTR:
		return
	}
	cb, _ := l.disarm(&e.v.wr).cb.(ConnectCallback)
	if err == nil && selfConnected(e) {
		err = unix.ECONNREFUSED
	}
	if err != nil {
		l.connectFailed(h, e, cb, connectStatusOf(err), err)
		return
	}
	e.v.state = ConnectionConnected
	l.syncInterest(h)
	l.callConnect(cb, h, ConnectStatusConnected)
}

func (l *loop) sockListen(bind Addr, opts StreamListenOptions, cb AcceptCallback) (handle, error) {
	if l.disposed {
		return 0, ErrDisposed
	}
	sa, family, flags, err := sockaddrOf(bind)
	if err != nil {
		return 0, err
	}
	fd, err := sysSocket(family, unix.SOCK_STREAM)
	if err != nil {
		return 0, err
	}
	if err := listenOptions(fd, flags, opts); err != nil {
		unix.Close(fd)
		return 0, err
	}
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		return 0, err
	}
	if err := unix.Listen(fd, listenBacklog); err != nil {
		unix.Close(fd)
		return 0, err
	}
	h, e, err := l.newFD(kindStreamListener, fd, flags)
	if err != nil {
		unix.Close(fd)
		return 0, err
	}
	e.v.state = ConnectionConnected
	if p := bind.Path(); flags&fdUnix != 0 && p != "" && !(abstractUnixPaths && p[0] == '@') {
		e.v.ext = &fdExt{unlink: p}
	}
	if cb != nil {
		l.arm(&e.v.rd, ioOp{cb: cb})
		l.syncInterest(h)
	}
	return h, nil
}

// listenBacklog is clamped by the kernel to its own maximum (somaxconn).
const listenBacklog = 1<<16 - 1

func listenOptions(fd int, flags fdFlags, opts StreamListenOptions) error {
	if flags&fdUnix == 0 {
		if opts&ListenReuseAddress != 0 {
			if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
				return err
			}
		}
		// Accepted connections inherit it, saving a system call per accept.
		unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	}
	if opts&ListenReusePort != 0 {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, soReusePort, 1); err != nil {
			return err
		}
	}
	if opts&ListenIPTransparent != 0 {
		return setIPTransparent(fd, flags&fdIPv6 != 0)
	}
	return nil
}

func (l *loop) sockWaitForConnections(h handle, cb AcceptCallback) bool {
	e := l.fds.get(h, kindStreamListener)
	if e == nil {
		return false
	}
	if cb == nil {
		if e.v.rd.active {
			l.disarm(&e.v.rd)
			l.syncInterest(h)
		}
		return true
	}
	l.arm(&e.v.rd, ioOp{cb: cb})
	// Connections may have queued while no one waited, and an
	// edge-triggered poller would not report them again.
	l.deferService(h)
	l.syncInterest(h)
	return true
}

func (l *loop) serviceAccept(h handle, e *entry[fdObj]) {
	if e.v.flags&fdPaused != 0 {
		return
	}
	lfd := int(e.v.fd)
	for range maxAcceptBatch {
		fd, salen, err := sysAccept(lfd, &l.rsa)
		if err != nil {
			switch err {
			case unix.EINTR, unix.ECONNABORTED:
				continue
			case unix.EAGAIN:
				return
			}
			e.setErr(err)
			l.acceptPause(h, e)
			return
		}
		acceptSucceeded(e)
		remote := decodeSockaddr(&l.rsa, salen, nil)
		sh, se, err := l.newFD(kindStreamSocket, fd, e.v.flags&(fdUnix|fdIPv6))
		if err != nil {
			unix.Close(fd)
			e.setErr(err)
			continue
		}
		se.v.state = ConnectionConnected
		cb, _ := e.v.rd.cb.(AcceptCallback)
		l.depth++
		cb(StreamListener{h}, StreamSocket{sh}, remote)
		l.depth--
		if e = l.fds.get(h, kindStreamListener); e == nil || !e.v.rd.active {
			return
		}
	}
	// More may be queued: take them after the others had their turn.
	l.deferService(h)
}

// ---- datagram sockets ----

func (l *loop) dgramCreate(bind, target Addr, opts DatagramCreateOptions) (handle, error) {
	if l.disposed {
		return 0, ErrDisposed
	}
	// Both addresses are converted before the socket is made: a bad one
	// binds nothing (and leaves no socket file behind).
	var sas [2]unix.Sockaddr // bind, target
	family, flags := -1, fdFlags(0)
	for i, a := range [2]Addr{bind, target} {
		if a.IsZero() {
			continue
		}
		sa, f, fl, err := sockaddrOf(a)
		if err == nil && family >= 0 && f != family {
			err = ErrInvalidAddress
		}
		if err != nil {
			return 0, err
		}
		sas[i], family, flags = sa, f, fl
	}
	if family < 0 {
		return 0, ErrInvalidAddress
	}
	fd, err := sysSocket(family, unix.SOCK_DGRAM)
	if err != nil {
		return 0, err
	}
	if err := dgramSetup(fd, sas, opts); err != nil {
		unix.Close(fd)
		return 0, err
	}
	h, e, err := l.newFD(kindDatagramSocket, fd, flags)
	if err != nil {
		unix.Close(fd)
		return 0, err
	}
	e.v.ext = &fdExt{}
	return h, nil
}

// dgramSetup sets the options of a new datagram socket, then binds it to
// sas[0] and connects it to sas[1], each unless nil.
func dgramSetup(fd int, sas [2]unix.Sockaddr, opts DatagramCreateOptions) error {
	set := func(on bool, opt int) error {
		if !on {
			return nil
		}
		return unix.SetsockoptInt(fd, unix.SOL_SOCKET, opt, 1)
	}
	if err := set(opts&DatagramReuseAddress != 0, unix.SO_REUSEADDR); err != nil {
		return err
	}
	if err := set(opts&DatagramReusePort != 0, soReusePort); err != nil {
		return err
	}
	if err := set(opts&DatagramBroadcast != 0, unix.SO_BROADCAST); err != nil {
		return err
	}
	if sas[0] != nil {
		if err := unix.Bind(fd, sas[0]); err != nil {
			return err
		}
	}
	if sas[1] != nil {
		return unix.Connect(fd, sas[1])
	}
	return nil
}

func (l *loop) dgramSetTarget(h handle, target Addr) error {
	e := l.fds.get(h, kindDatagramSocket)
	if e == nil {
		return ErrInvalidHandle
	}
	var err error
	if target.IsZero() {
		err = sysDisconnect(int(e.v.fd))
	} else {
		var sa unix.Sockaddr
		if sa, _, _, err = sockaddrOf(target); err == nil {
			err = unix.Connect(int(e.v.fd), sa)
		}
	}
	if err != nil {
		e.setErr(err)
	}
	return err
}

// ---- any socket ----

func (l *loop) sockAdopt(fd uintptr, k kind) (handle, error) {
	ifd, err := l.adoptable(fd)
	if err != nil {
		return 0, err
	}
	typ, err := unix.GetsockoptInt(ifd, unix.SOL_SOCKET, unix.SO_TYPE)
	if err != nil {
		return 0, err
	}
	want := unix.SOCK_STREAM
	if k == kindDatagramSocket {
		want = unix.SOCK_DGRAM
	}
	if typ != want {
		return 0, unix.EPROTOTYPE
	}
	sa, err := unix.Getsockname(ifd)
	if err != nil {
		return 0, err
	}
	var flags fdFlags
	switch sa.(type) {
	case *unix.SockaddrUnix:
		flags = fdUnix
	case *unix.SockaddrInet6:
		flags = fdIPv6
	}
	if k == kindStreamSocket {
		if _, err := unix.Getpeername(ifd); err != nil {
			return 0, err
		}
	}
	if err := unix.SetNonblock(ifd, true); err != nil {
		return 0, err
	}
	unix.CloseOnExec(ifd)
	h, e, err := l.newFD(k, ifd, flags)
	if err != nil {
		return 0, err
	}
	e.v.state = ConnectionConnected
	if k == kindDatagramSocket {
		e.v.ext = &fdExt{}
	}
	return h, nil
}

// ---- addresses ----

// sockaddrOf converts a for bind and connect.
func sockaddrOf(a Addr) (unix.Sockaddr, int, fdFlags, error) {
	switch {
	case a.IsUnix():
		if err := checkUnixPath(a.path); err != nil {
			return nil, 0, 0, err
		}
		return &unix.SockaddrUnix{Name: a.path}, unix.AF_UNIX, fdUnix, nil
	case !a.ap.IsValid():
		return nil, 0, 0, ErrInvalidAddress
	case a.ap.Addr().Is4():
		return &unix.SockaddrInet4{Port: int(a.ap.Port()), Addr: a.ap.Addr().As4()}, unix.AF_INET, 0, nil
	}
	zone, err := zoneIndex(a.ap.Addr().Zone())
	if err != nil {
		return nil, 0, 0, err
	}
	return &unix.SockaddrInet6{Port: int(a.ap.Port()), Addr: a.ap.Addr().As16(), ZoneId: zone},
		unix.AF_INET6, fdIPv6, nil
}

func addrOf(sa unix.Sockaddr) Addr {
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return Addr{ap: netipAddrPort4(sa.Addr, uint16(sa.Port))}
	case *unix.SockaddrInet6:
		return Addr{ap: netipAddrPort6(sa.Addr, sa.ZoneId, uint16(sa.Port))}
	case *unix.SockaddrUnix:
		return UnixAddr(sa.Name)
	}
	return Addr{}
}

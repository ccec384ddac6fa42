package eventcore

import "time"

// Socket options and addresses, shared by every driver family: the checks
// and the choice of option are here; setting one is a per-OS primitive
// (sockopt_unix.go over the sockopt_<os>.go files, sockopt_windows.go).

// boolOpt is an on/off socket option.
type boolOpt uint8

const (
	optNoDelay      boolOpt = iota // TCP_NODELAY
	optKeepAlive                   // SO_KEEPALIVE
	optBroadcast                   // SO_BROADCAST
	optMcastLoop4                  // IP_MULTICAST_LOOP
	optMcastLoop6                  // IPV6_MULTICAST_LOOP
	optReuseAddress                // SO_REUSEADDR
)

// openSocket returns the live socket entry h names, or why not.
func (l *loop) openSocket(h handle, k kind) (*entry[fdObj], error) {
	var e *entry[fdObj]
	if k == 0 {
		e = l.fdEntry(h)
	} else {
		e = l.fds.get(h, k)
	}
	switch {
	case e == nil || h.kind() == kindPipe:
		return nil, ErrInvalidHandle
	case e.v.fd == invalidFD:
		return nil, ErrClosed
	}
	return e, nil
}

// failed records err as the last error of e and returns it.
func failed(e *entry[fdObj], err error) error {
	if err != nil {
		e.err = err
	}
	return err
}

func (l *loop) sockAddress(h handle, remote bool) (Addr, error) {
	e, err := l.openSocket(h, 0)
	if err != nil {
		return Addr{}, err
	}
	a, err := sockName(e.v.fd, remote)
	return a, failed(e, err)
}

func (l *loop) sockSetOption(h handle, opt SocketOption, enable bool) error {
	e, err := l.openSocket(h, 0)
	if err != nil {
		return err
	}
	stream, ip := h.kind() == kindStreamSocket, e.v.flags&fdUnix == 0
	var o boolOpt
	switch {
	case opt == SocketOptionNoDelay && stream && ip:
		o = optNoDelay
	case opt == SocketOptionKeepAlive && stream && ip:
		o = optKeepAlive
	case opt == SocketOptionBroadcast && !stream:
		o = optBroadcast
	case opt == SocketOptionMulticastLoopback && !stream && e.v.flags&fdIPv6 != 0:
		o = optMcastLoop6
	case opt == SocketOptionMulticastLoopback && !stream && ip:
		o = optMcastLoop4
	default:
		return failed(e, ErrNotSupported)
	}
	return failed(e, setBoolOpt(e.v.fd, o, enable))
}

func (l *loop) sockKeepAliveParams(h handle, idle, interval time.Duration, probes int) error {
	e, err := l.openSocket(h, kindStreamSocket)
	if err != nil {
		return err
	}
	if e.v.flags&fdUnix != 0 {
		return ErrNotSupported
	}
	return failed(e, keepAliveParams(e.v.fd, ceilSeconds(idle), ceilSeconds(interval), probes))
}

func (l *loop) sockUserTimeout(h handle, timeout time.Duration) error {
	e, err := l.openSocket(h, kindStreamSocket)
	if err != nil {
		return err
	}
	if e.v.flags&fdUnix != 0 {
		return ErrNotSupported
	}
	return failed(e, userTimeout(e.v.fd, timeout))
}

func (l *loop) dgramMulticast(h handle, op mcastOp, group Addr, ifIndex uint32) error {
	e := l.fds.get(h, kindDatagramSocket)
	if e == nil {
		return ErrInvalidHandle
	}
	fd, v6 := e.v.fd, e.v.flags&fdIPv6 != 0
	var err error
	switch {
	case e.v.flags&fdUnix != 0:
		err = ErrNotSupported
	case op == mcastJoin || op == mcastLeave:
		ip := group.AddrPort().Addr()
		switch {
		case !ip.IsMulticast():
			err = ErrInvalidAddress
		case v6:
			err = mcastJoin6(fd, ip.As16(), ifIndex, op == mcastJoin)
		case ip.Is4():
			err = mcastJoin4(fd, ip.As4(), ifIndex, op == mcastJoin)
		default:
			err = ErrInvalidAddress
		}
	case op == mcastInterface:
		err = mcastSetInterface(fd, v6, ifIndex)
	case op == mcastTTL:
		err = mcastSetTTL(fd, v6, int(ifIndex))
	}
	return failed(e, err)
}

// ceilSeconds rounds a keep-alive duration up to whole seconds, at least 1.
func ceilSeconds(d time.Duration) int {
	return int(max((d+time.Second-1)/time.Second, 1))
}

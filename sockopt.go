package eventcore

import (
	"fmt"
	"math"
	"time"
)

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
		e.setErr(err)
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
	is, err := unitsIn("keep-alive idle time", idle, time.Second, maxKeepAliveSecs)
	if err != nil {
		return failed(e, err)
	}
	iv, err := unitsIn("keep-alive interval", interval, time.Second, maxKeepAliveSecs)
	if err != nil {
		return failed(e, err)
	}
	if probes < 0 || probes > maxKeepAliveProbes {
		return failed(e, &rangeError{what: "keep-alive probe count", hi: maxKeepAliveProbes, got: probes})
	}
	return failed(e, keepAliveParams(e.v.fd, is, iv, probes))
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

// dgramMulticast applies a multicast option; arg is the interface index,
// or the TTL for mcastTTL.
func (l *loop) dgramMulticast(h handle, op mcastOp, group Addr, arg int64) error {
	e := l.fds.get(h, kindDatagramSocket)
	if e == nil {
		return ErrInvalidHandle
	}
	fd, v6 := e.v.fd, e.v.flags&fdIPv6 != 0
	what, hi := "interface index", int64(maxIfIndex)
	if op == mcastTTL {
		what, hi = "multicast TTL", maxTTL
	}
	var err error
	switch {
	case e.v.flags&fdUnix != 0:
		err = ErrNotSupported
	case arg < 0 || arg > hi:
		err = &rangeError{what: what, hi: hi, got: arg}
	case op == mcastJoin || op == mcastLeave:
		ip := group.AddrPort().Addr()
		switch {
		case !ip.IsMulticast():
			err = ErrInvalidAddress
		case v6:
			err = mcastJoin6(fd, ip.As16(), uint32(arg), op == mcastJoin)
		case ip.Is4():
			err = mcastJoin4(fd, ip.As4(), uint32(arg), op == mcastJoin)
		default:
			err = ErrInvalidAddress
		}
	case op == mcastInterface:
		err = mcastSetInterface(fd, v6, uint32(arg))
	case op == mcastTTL:
		err = mcastSetTTL(fd, v6, int(arg))
	}
	return failed(e, err)
}

// rangeError is a value the system cannot take as it is; it wraps
// ErrOutOfRange, and nothing was set.
type rangeError struct {
	what string // what the value is, e.g. "keep-alive idle time"
	hi   int64  // the range is 0..hi, inclusive
	unit string // the unit of the range: "", " s" or " ms"
	got  any    // the value given
}

func (e *rangeError) Error() string {
	return fmt.Sprintf("eventcore: %s must be between 0 and %d%s, got %v", e.what, e.hi, e.unit, e.got)
}

func (e *rangeError) Unwrap() error { return ErrOutOfRange }

// unitsIn converts d to a count of unit (time.Second or time.Millisecond)
// for the kernel, rounding a fraction up: a time the kernel counts in whole
// units is never cut short, and a positive one never becomes 0. The count
// must lie in 0..hi (hi at most math.MaxInt32, so the count fits the int
// every setsockopt takes); a negative d, or one too long, gives a
// rangeError naming what the value is.
func unitsIn(what string, d, unit time.Duration, hi int64) (int, error) {
	n := int64(d / unit)
	if d%unit > 0 {
		n++
	}
	if d < 0 || n > hi {
		u := " s"
		if unit == time.Millisecond {
			u = " ms"
		}
		return 0, &rangeError{what: what, hi: hi, unit: u, got: d}
	}
	return int(n), nil
}

// maxIfIndex is the largest interface index: the kernels count them in a
// C int.
const maxIfIndex = math.MaxInt32

// maxTTL is the largest multicast time-to-live (IPv4) or hop limit (IPv6):
// both are a byte on the wire.
const maxTTL = 255

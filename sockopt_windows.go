package eventcore

import (
	"fmt"
	"math"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
)

// The Windows primitives of sockopt.go.

var boolOpts = [...]struct{ level, opt int }{
	optNoDelay:      {windows.IPPROTO_TCP, windows.TCP_NODELAY},
	optKeepAlive:    {windows.SOL_SOCKET, windows.SO_KEEPALIVE},
	optBroadcast:    {windows.SOL_SOCKET, windows.SO_BROADCAST},
	optMcastLoop4:   {windows.IPPROTO_IP, windows.IP_MULTICAST_LOOP},
	optMcastLoop6:   {windows.IPPROTO_IPV6, windows.IPV6_MULTICAST_LOOP},
	optReuseAddress: {windows.SOL_SOCKET, windows.SO_REUSEADDR},
}

func fdArg(fd sysFD) sysFD { return fd }

func setBoolOpt(s sysFD, o boolOpt, on bool) error {
	v := 0
	if on {
		v = 1
	}
	return windows.SetsockoptInt(s, boolOpts[o].level, boolOpts[o].opt, v)
}

func sockName(s sysFD, peer bool) (Addr, error) {
	var rsa rawSockaddr
	salen, err := sysSockname(s, &rsa, peer)
	if err != nil {
		return Addr{}, err
	}
	return decodeSockaddr(&rsa, salen, nil), nil
}

// Limits on keep-alive timing: Windows counts the times in milliseconds in
// 32 bits (SIO_KEEPALIVE_VALS), and refuses more than 255 probes
// (TCP_KEEPCNT).
const (
	maxKeepAliveSecs   = math.MaxUint32 / 1000
	maxKeepAliveProbes = 255
)

// keepAliveParams enables keep-alive and sets what of its timing is not 0,
// with the per-socket TCP_KEEPIDLE, TCP_KEEPINTVL and TCP_KEEPCNT of
// Windows 10 1709 and later. Where they are missing (so in Wine 8) it falls
// back to SIO_KEEPALIVE_VALS, which sets both times at once and no probe
// count: it serves only a call that gives both times and no count, and any
// other gets ErrNotSupported.
func keepAliveParams(s sysFD, idle, interval, probes int) error {
	if err := setBoolOpt(s, optKeepAlive, true); err != nil {
		return err
	}
	var err error
	for _, o := range [...]struct{ opt, v int }{{windows.TCP_KEEPIDLE, idle}, {windows.TCP_KEEPINTVL, interval}, {windows.TCP_KEEPCNT, probes}} {
		if o.v != 0 && err == nil {
			err = windows.SetsockoptInt(s, windows.IPPROTO_TCP, o.opt, o.v)
		}
	}
	switch {
	case err != windows.WSAENOPROTOOPT && err != windows.WSAEINVAL:
		return err
	case idle == 0 || interval == 0 || probes != 0:
		return fmt.Errorf("%w: this Windows sets both keep-alive times at once and no probe count (%w)", ErrNotSupported, err)
	}
	// In uint32: idle * 1000 fits (maxKeepAliveSecs), but not in a 32-bit
	// int.
	ka := windows.TCPKeepalive{OnOff: 1, Time: uint32(idle) * 1000, Interval: uint32(interval) * 1000}
	var n uint32
	return windows.WSAIoctl(s, windows.SIO_KEEPALIVE_VALS, (*byte)(unsafe.Pointer(&ka)), uint32(unsafe.Sizeof(ka)), nil, 0, &n, nil, 0)
}

// userTimeout: Windows has no TCP_USER_TIMEOUT.
func userTimeout(sysFD, time.Duration) error { return ErrNotSupported }

func mcastJoin6(s sysFD, group [16]byte, ifIndex uint32, join bool) error {
	opt := windows.IPV6_JOIN_GROUP
	if !join {
		opt = windows.IPV6_LEAVE_GROUP
	}
	return windows.SetsockoptIPv6Mreq(s, windows.IPPROTO_IPV6, opt, &windows.IPv6Mreq{Multiaddr: group, Interface: ifIndex})
}

func mcastJoin4(s sysFD, group [4]byte, ifIndex uint32, join bool) error {
	ifAddr, err := interfaceAddr4(ifIndex)
	if err != nil {
		return err
	}
	opt := windows.IP_ADD_MEMBERSHIP
	if !join {
		opt = windows.IP_DROP_MEMBERSHIP
	}
	return windows.SetsockoptIPMreq(s, windows.IPPROTO_IP, opt, &windows.IPMreq{Multiaddr: group, Interface: ifAddr})
}

func mcastSetInterface(s sysFD, v6 bool, ifIndex uint32) error {
	if v6 {
		return windows.SetsockoptInt(s, windows.IPPROTO_IPV6, windows.IPV6_MULTICAST_IF, int(ifIndex))
	}
	ifAddr, err := interfaceAddr4(ifIndex)
	if err != nil {
		return err
	}
	return windows.Setsockopt(s, windows.IPPROTO_IP, windows.IP_MULTICAST_IF, &ifAddr[0], 4)
}

func mcastSetTTL(s sysFD, v6 bool, ttl int) error {
	if v6 {
		return windows.SetsockoptInt(s, windows.IPPROTO_IPV6, windows.IPV6_MULTICAST_HOPS, ttl)
	}
	return windows.SetsockoptInt(s, windows.IPPROTO_IP, windows.IP_MULTICAST_TTL, ttl)
}

// errAddrNotAvail: the interface given for IPv4 multicast has no IPv4
// address (interfaceAddr4).
var errAddrNotAvail error = windows.WSAEADDRNOTAVAIL

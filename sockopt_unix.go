//go:build unix

package eventcore

import (
	"time"

	"golang.org/x/sys/unix"
)

// The POSIX primitives of sockopt.go, over the per-OS spellings of
// sockopt_linux.go, sockopt_bsd.go and the others.

var boolOpts = [...]struct{ level, opt int }{
	optNoDelay:      {unix.IPPROTO_TCP, unix.TCP_NODELAY},
	optKeepAlive:    {unix.SOL_SOCKET, unix.SO_KEEPALIVE},
	optBroadcast:    {unix.SOL_SOCKET, unix.SO_BROADCAST},
	optMcastLoop4:   {unix.IPPROTO_IP, unix.IP_MULTICAST_LOOP},
	optMcastLoop6:   {unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_LOOP},
	optReuseAddress: {unix.SOL_SOCKET, unix.SO_REUSEADDR},
}

func fdArg(fd sysFD) int { return int(fd) }

func setBoolOpt(fd sysFD, o boolOpt, on bool) error {
	if o == optMcastLoop4 {
		return mcastLoop4(int(fd), on) // a byte, not an int, on the BSDs
	}
	v := 0
	if on {
		v = 1
	}
	return unix.SetsockoptInt(int(fd), boolOpts[o].level, boolOpts[o].opt, v)
}

func sockName(fd sysFD, peer bool) (Addr, error) {
	var sa unix.Sockaddr
	var err error
	if peer {
		sa, err = unix.Getpeername(int(fd))
	} else {
		sa, err = unix.Getsockname(int(fd))
	}
	if err != nil {
		return Addr{}, err
	}
	return addrOf(sa), nil
}

func keepAliveParams(fd sysFD, idle, interval, probes int) error {
	return setKeepAliveParams(int(fd), idle, interval, probes)
}

func userTimeout(fd sysFD, timeout time.Duration) error { return setUserTimeout(int(fd), timeout) }

func mcastJoin6(fd sysFD, group [16]byte, ifIndex uint32, join bool) error {
	opt := unix.IPV6_JOIN_GROUP
	if !join {
		opt = unix.IPV6_LEAVE_GROUP
	}
	return unix.SetsockoptIPv6Mreq(int(fd), unix.IPPROTO_IPV6, opt, &unix.IPv6Mreq{Multiaddr: group, Interface: ifIndex})
}

func mcastJoin4(fd sysFD, group [4]byte, ifIndex uint32, join bool) error {
	return mcastMembership4(int(fd), group, ifIndex, join)
}

func mcastSetInterface(fd sysFD, v6 bool, ifIndex uint32) error {
	if v6 {
		return unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_IF, int(ifIndex))
	}
	return mcastInterface4(int(fd), ifIndex)
}

func mcastSetTTL(fd sysFD, v6 bool, ttl int) error {
	if v6 {
		return unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_HOPS, ttl)
	}
	return mcastTTL4(int(fd), ttl)
}

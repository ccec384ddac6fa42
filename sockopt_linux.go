package eventcore

import (
	"time"

	"golang.org/x/sys/unix"
)

// The Linux primitives of sockopt.go.

func setIPTransparent(fd int, v6 bool) error {
	if v6 {
		return unix.SetsockoptInt(fd, unix.SOL_IPV6, unix.IPV6_TRANSPARENT, 1)
	}
	return unix.SetsockoptInt(fd, unix.SOL_IP, unix.IP_TRANSPARENT, 1)
}

var boolOpts = [...]struct{ level, opt int }{
	optNoDelay:      {unix.IPPROTO_TCP, unix.TCP_NODELAY},
	optKeepAlive:    {unix.SOL_SOCKET, unix.SO_KEEPALIVE},
	optBroadcast:    {unix.SOL_SOCKET, unix.SO_BROADCAST},
	optMcastLoop4:   {unix.IPPROTO_IP, unix.IP_MULTICAST_LOOP},
	optMcastLoop6:   {unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_LOOP},
	optReuseAddress: {unix.SOL_SOCKET, unix.SO_REUSEADDR},
}

func setBoolOpt(fd sysFD, o boolOpt, on bool) error {
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

func setKeepAliveParams(fd sysFD, idle, interval, probes int) error {
	s := int(fd)
	if err := unix.SetsockoptInt(s, unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1); err != nil {
		return err
	}
	if err := unix.SetsockoptInt(s, unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, idle); err != nil {
		return err
	}
	if err := unix.SetsockoptInt(s, unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, interval); err != nil {
		return err
	}
	if probes > 0 {
		return unix.SetsockoptInt(s, unix.IPPROTO_TCP, unix.TCP_KEEPCNT, probes)
	}
	return nil
}

func setUserTimeout(fd sysFD, timeout time.Duration) error {
	ms := int(max(timeout, 0) / time.Millisecond)
	return unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT, ms)
}

func mcastMembership6(fd sysFD, group [16]byte, ifIndex uint32, join bool) error {
	opt := unix.IPV6_JOIN_GROUP
	if !join {
		opt = unix.IPV6_LEAVE_GROUP
	}
	return unix.SetsockoptIPv6Mreq(int(fd), unix.IPPROTO_IPV6, opt, &unix.IPv6Mreq{Multiaddr: group, Interface: ifIndex})
}

func mcastMembership4(fd sysFD, group [4]byte, ifIndex uint32, join bool) error {
	opt := unix.IP_ADD_MEMBERSHIP
	if !join {
		opt = unix.IP_DROP_MEMBERSHIP
	}
	return unix.SetsockoptIPMreqn(int(fd), unix.IPPROTO_IP, opt, &unix.IPMreqn{Multiaddr: group, Ifindex: int32(ifIndex)})
}

func setMcastInterface(fd sysFD, v6 bool, ifIndex uint32) error {
	if v6 {
		return unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_IF, int(ifIndex))
	}
	return unix.SetsockoptIPMreqn(int(fd), unix.IPPROTO_IP, unix.IP_MULTICAST_IF, &unix.IPMreqn{Ifindex: int32(ifIndex)})
}

func setMcastTTL(fd sysFD, v6 bool, ttl int) error {
	if v6 {
		return unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_HOPS, ttl)
	}
	return unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_MULTICAST_TTL, ttl)
}

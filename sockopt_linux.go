package eventcore

import (
	"math"
	"time"

	"golang.org/x/sys/unix"
)

// Socket options whose spelling differs between Linux and the BSDs (see
// sockopt_bsd.go).

func setIPTransparent(fd int, v6 bool) error {
	if v6 {
		return unix.SetsockoptInt(fd, unix.SOL_IPV6, unix.IPV6_TRANSPARENT, 1)
	}
	return unix.SetsockoptInt(fd, unix.SOL_IP, unix.IP_TRANSPARENT, 1)
}

// Linux's limits on keep-alive timing (MAX_TCP_KEEPIDLE, MAX_TCP_KEEPINTVL
// and MAX_TCP_KEEPCNT in include/net/tcp.h): it refuses more.
const (
	maxKeepAliveSecs   = 32767
	maxKeepAliveProbes = 127
)

// setUserTimeout sets TCP_USER_TIMEOUT, which Linux takes in milliseconds,
// as a non-negative int.
func setUserTimeout(fd int, timeout time.Duration) error {
	ms, err := unitsIn("TCP_USER_TIMEOUT", timeout, time.Millisecond, math.MaxInt32)
	if err != nil {
		return err
	}
	return unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT, ms)
}

func mcastMembership4(fd int, group [4]byte, ifIndex uint32, join bool) error {
	opt := unix.IP_ADD_MEMBERSHIP
	if !join {
		opt = unix.IP_DROP_MEMBERSHIP
	}
	return unix.SetsockoptIPMreqn(fd, unix.IPPROTO_IP, opt, &unix.IPMreqn{Multiaddr: group, Ifindex: int32(ifIndex)})
}

func mcastInterface4(fd int, ifIndex uint32) error {
	return unix.SetsockoptIPMreqn(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_IF, &unix.IPMreqn{Ifindex: int32(ifIndex)})
}

func mcastTTL4(fd, ttl int) error {
	return unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_TTL, ttl)
}

func mcastLoop4(fd int, enable bool) error {
	v := 0
	if enable {
		v = 1
	}
	return unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_LOOP, v)
}

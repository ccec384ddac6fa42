//go:build darwin || dragonfly || freebsd || netbsd || openbsd

package eventcore

import (
	"math"
	"time"

	"golang.org/x/sys/unix"
)

// Socket options whose spelling differs between the BSDs and Linux (see
// sockopt_linux.go). The BSDs name a multicast interface by one of its
// IPv4 addresses (struct ip_mreq, struct in_addr), and take the IPv4
// multicast TTL and loopback as single bytes.

// Limits on keep-alive timing: macOS refuses more than UINT32_MAX / 1000
// seconds, FreeBSD more than UINT_MAX / hz (hz is 1000 unless the kernel
// was tuned): both count it in milliseconds (ticks) in 32 bits. The probe
// count is an int.
const (
	maxKeepAliveSecs   = math.MaxUint32 / 1000
	maxKeepAliveProbes = math.MaxInt32
)

// setUserTimeout: TCP_USER_TIMEOUT is Linux's alone.
func setUserTimeout(int, time.Duration) error { return ErrNotSupported }

func mcastMembership4(fd int, group [4]byte, ifIndex uint32, join bool) error {
	ifAddr, err := interfaceAddr4(ifIndex)
	if err != nil {
		return err
	}
	opt := unix.IP_ADD_MEMBERSHIP
	if !join {
		opt = unix.IP_DROP_MEMBERSHIP
	}
	return unix.SetsockoptIPMreq(fd, unix.IPPROTO_IP, opt, &unix.IPMreq{Multiaddr: group, Interface: ifAddr})
}

func mcastInterface4(fd int, ifIndex uint32) error {
	ifAddr, err := interfaceAddr4(ifIndex)
	if err != nil {
		return err
	}
	return unix.SetsockoptInet4Addr(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_IF, ifAddr)
}

func mcastTTL4(fd, ttl int) error {
	if ttl < 0 || ttl > 255 {
		return unix.EINVAL
	}
	return unix.SetsockoptByte(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_TTL, byte(ttl))
}

func mcastLoop4(fd int, enable bool) error {
	var v byte
	if enable {
		v = 1
	}
	return unix.SetsockoptByte(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_LOOP, v)
}

// errAddrNotAvail: the interface given for IPv4 multicast has no IPv4
// address (interfaceAddr4).
var errAddrNotAvail error = unix.EADDRNOTAVAIL

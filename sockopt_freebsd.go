package eventcore

import "golang.org/x/sys/unix"

// soReusePort: FreeBSD's SO_REUSEPORT lets sockets share an address but
// gives one of them everything; SO_REUSEPORT_LB (FreeBSD 12) spreads
// connections and datagrams over them by a hash of the addresses, as
// Linux's SO_REUSEPORT does.
const soReusePort = unix.SO_REUSEPORT_LB

// setIPTransparent: FreeBSD's IP_BINDANY and IPV6_BINDANY let a socket
// bind to an address that is not local, which is what transparent
// proxying needs (Linux's IP_TRANSPARENT); they need privilege.
func setIPTransparent(fd int, v6 bool) error {
	if v6 {
		return unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_BINDANY, 1)
	}
	return unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_BINDANY, 1)
}

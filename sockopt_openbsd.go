package eventcore

import "golang.org/x/sys/unix"

// setIPTransparent: OpenBSD's SO_BINDANY lets a socket bind to an address
// that is not local, which is what transparent proxying needs (Linux's
// IP_TRANSPARENT); it needs privilege.
func setIPTransparent(fd int, _ bool) error {
	return unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_BINDANY, 1)
}

// setKeepAliveParams: OpenBSD sets keep-alive timing only system-wide
// (sysctl net.inet.tcp.keepidle and keepintvl), not per socket.
func setKeepAliveParams(int, int, int, int) error { return ErrNotSupported }

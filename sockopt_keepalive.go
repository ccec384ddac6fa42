//go:build darwin || dragonfly || freebsd || linux || netbsd

package eventcore

import "golang.org/x/sys/unix"

// setKeepAliveParams enables keep-alive with its timing in seconds, where
// the system lets a socket choose it (OpenBSD does not).
func setKeepAliveParams(fd, idle, interval, probes int) error {
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1); err != nil {
		return err
	}
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, tcpKeepIdle, idle); err != nil {
		return err
	}
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, interval); err != nil {
		return err
	}
	if probes > 0 {
		return unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPCNT, probes)
	}
	return nil
}

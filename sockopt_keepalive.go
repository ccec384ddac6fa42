//go:build darwin || dragonfly || freebsd || linux || netbsd

package eventcore

import "golang.org/x/sys/unix"

// setKeepAliveParams enables keep-alive and sets what of its timing is not
// 0 (times in seconds, a probe count), where the system lets a socket
// choose it (OpenBSD does not).
func setKeepAliveParams(fd, idle, interval, probes int) error {
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1); err != nil {
		return err
	}
	for _, o := range [...]struct{ opt, v int }{{tcpKeepIdle, idle}, {unix.TCP_KEEPINTVL, interval}, {unix.TCP_KEEPCNT, probes}} {
		if o.v == 0 {
			continue
		}
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, o.opt, o.v); err != nil {
			return err
		}
	}
	return nil
}

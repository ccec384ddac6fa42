//go:build darwin || dragonfly || freebsd || linux || netbsd

package eventcore

import (
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// keepAliveState reads the keep-alive idle time, interval and probe count
// back from the kernel.
func keepAliveState(t *testing.T, d *Driver, c StreamSocket) ([3]int, bool) {
	t.Helper()
	return [3]int{
		sockOptRaw(t, d, c, syscall.IPPROTO_TCP, tcpKeepIdle),
		sockOptRaw(t, d, c, syscall.IPPROTO_TCP, unix.TCP_KEEPINTVL),
		sockOptRaw(t, d, c, syscall.IPPROTO_TCP, unix.TCP_KEEPCNT),
	}, true
}

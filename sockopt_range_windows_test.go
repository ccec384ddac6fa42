package eventcore

import (
	"testing"

	"golang.org/x/sys/windows"
)

// keepAliveState reads the keep-alive idle time, interval and probe count
// back from the kernel; false where Windows (before 10 1709) cannot report
// them.
func keepAliveState(t *testing.T, d *Driver, c StreamSocket) ([3]int, bool) {
	t.Helper()
	fd := d.l.fdEntry(c.h).v.fd
	var v [3]int
	for i, opt := range []int{windows.TCP_KEEPIDLE, windows.TCP_KEEPINTVL, windows.TCP_KEEPCNT} {
		n, err := windows.GetsockoptInt(fd, windows.IPPROTO_TCP, opt)
		if err != nil {
			return v, false
		}
		v[i] = n
	}
	return v, true
}

//go:build darwin || dragonfly || freebsd || linux || netbsd

package eventcore

import (
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func checkKeepAliveParams(t *testing.T, s Sockets, c StreamSocket, get func(SocketHandle, int, int) int) {
	t.Helper()
	if err := s.SetKeepAliveParams(c, 42*time.Second, 1500*time.Millisecond, 7); err != nil {
		t.Fatal(err)
	}
	if get(c, syscall.SOL_SOCKET, syscall.SO_KEEPALIVE) != 1 || get(c, syscall.IPPROTO_TCP, tcpKeepIdle) != 42 ||
		get(c, syscall.IPPROTO_TCP, unix.TCP_KEEPINTVL) != 2 || get(c, syscall.IPPROTO_TCP, unix.TCP_KEEPCNT) != 7 {
		t.Error("keep-alive parameters not applied")
	}
}

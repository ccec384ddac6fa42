//go:build darwin || dragonfly || freebsd || netbsd || openbsd

package eventcore

import (
	"errors"
	"testing"
	"time"
)

func checkUserTimeout(t *testing.T, s Sockets, c StreamSocket, _ func(SocketHandle, int, int) int) {
	t.Helper()
	if err := s.SetUserTimeout(c, 2500*time.Millisecond); !errors.Is(err, ErrNotSupported) {
		t.Errorf("SetUserTimeout: %v, want ErrNotSupported (TCP_USER_TIMEOUT is Linux's)", err)
	}
}

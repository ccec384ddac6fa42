package eventcore

import (
	"errors"
	"testing"
	"time"
)

func checkKeepAliveParams(t *testing.T, s Sockets, c StreamSocket, _ func(SocketHandle, int, int) int) {
	t.Helper()
	if err := s.SetKeepAliveParams(c, 42*time.Second, time.Second, 7); !errors.Is(err, ErrNotSupported) {
		t.Errorf("SetKeepAliveParams on OpenBSD: %v, want ErrNotSupported", err)
	}
}

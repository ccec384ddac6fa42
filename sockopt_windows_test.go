package eventcore

import (
	"errors"
	"testing"
	"time"

	"golang.org/x/sys/windows"
)

func checkKeepAliveParams(t *testing.T, s Sockets, c StreamSocket, get func(SocketHandle, int, int) int) {
	t.Helper()
	if err := s.SetKeepAliveParams(c, 42*time.Second, 1500*time.Millisecond, 7); err != nil {
		t.Fatal(err)
	}
	if get(c, windows.SOL_SOCKET, windows.SO_KEEPALIVE) != 1 {
		t.Error("SO_KEEPALIVE not on")
	}
	// Windows 10 1709 and later read the values back; systems that only
	// have SIO_KEEPALIVE_VALS cannot report them.
	e := s.l.fds.get(c.h, kindStreamSocket)
	if idle, err := windows.GetsockoptInt(e.v.fd, windows.IPPROTO_TCP, windows.TCP_KEEPIDLE); err == nil {
		if intvl := get(c, windows.IPPROTO_TCP, windows.TCP_KEEPINTVL); idle != 42 || intvl != 2 {
			t.Errorf("keep-alive idle %d s, interval %d s; want 42 and 2", idle, intvl)
		}
	}
}

func checkUserTimeout(t *testing.T, s Sockets, c StreamSocket, _ func(SocketHandle, int, int) int) {
	t.Helper()
	if err := s.SetUserTimeout(c, 2500*time.Millisecond); !errors.Is(err, ErrNotSupported) {
		t.Errorf("SetUserTimeout on Windows (no TCP_USER_TIMEOUT): %v", err)
	}
}

func TestListenIPTransparent(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *Driver) {
		if _, err := d.Sockets().ListenStream(MustParseAddr("127.0.0.1:0"), ListenIPTransparent, nil); !errors.Is(err, ErrNotSupported) {
			t.Fatalf("ListenIPTransparent on Windows (no IP_TRANSPARENT): %v", err)
		}
	})
}

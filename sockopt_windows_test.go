package eventcore

import (
	"errors"
	"testing"
	"time"

	"golang.org/x/sys/windows"
)

func checkKeepAliveParams(t *testing.T, s Sockets, c StreamSocket, get func(SocketHandle, int, int) int) {
	t.Helper()
	// Windows 10 1709 and later set and read back the values per socket;
	// systems that only have SIO_KEEPALIVE_VALS (Wine 8 among them) can
	// neither report them nor set a probe count, which they must refuse,
	// not drop.
	e := s.l.fds.get(c.h, kindStreamSocket)
	_, noPerSocket := windows.GetsockoptInt(e.v.fd, windows.IPPROTO_TCP, windows.TCP_KEEPIDLE)
	err := s.SetKeepAliveParams(c, 42*time.Second, 1500*time.Millisecond, 7)
	if noPerSocket != nil {
		if !errors.Is(err, ErrNotSupported) {
			t.Errorf("a probe count without TCP_KEEPCNT: %v, want ErrNotSupported", err)
		}
		err = s.SetKeepAliveParams(c, 42*time.Second, 1500*time.Millisecond, 0)
	}
	if err != nil {
		t.Fatal(err)
	}
	if get(c, windows.SOL_SOCKET, windows.SO_KEEPALIVE) != 1 {
		t.Error("SO_KEEPALIVE not on")
	}
	if noPerSocket == nil {
		idle, intvl, cnt := get(c, windows.IPPROTO_TCP, windows.TCP_KEEPIDLE), get(c, windows.IPPROTO_TCP, windows.TCP_KEEPINTVL), get(c, windows.IPPROTO_TCP, windows.TCP_KEEPCNT)
		if idle != 42 || intvl != 2 || cnt != 7 {
			t.Errorf("keep-alive idle %d s, interval %d s, %d probes; want 42, 2 and 7", idle, intvl, cnt)
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

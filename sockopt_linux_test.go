package eventcore

import (
	"errors"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func checkUserTimeout(t *testing.T, s Sockets, c StreamSocket, get func(SocketHandle, int, int) int) {
	t.Helper()
	if err := s.SetUserTimeout(c, 2500*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if v := get(c, syscall.IPPROTO_TCP, unix.TCP_USER_TIMEOUT); v != 2500 {
		t.Errorf("TCP_USER_TIMEOUT = %d, want 2500", v)
	}
}

func TestListenIPTransparent(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *Driver) {
		s := d.Sockets()
		lst, err := s.ListenStream(MustParseAddr("127.0.0.1:0"), ListenIPTransparent, nil)
		if errors.Is(err, syscall.EPERM) {
			t.Skip("IP_TRANSPARENT needs CAP_NET_ADMIN")
		}
		if err != nil {
			t.Fatal(err)
		}
		v, err := unix.GetsockoptInt(int(d.l.fdEntry(lst.h).v.fd), unix.SOL_IP, unix.IP_TRANSPARENT)
		if err != nil || v != 1 {
			t.Fatalf("IP_TRANSPARENT = %d, %v", v, err)
		}
		s.ReleaseRef(lst)
	})
}

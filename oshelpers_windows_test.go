package eventcore

import (
	"errors"
	"os"
	"syscall"
	"testing"
	"unsafe"

	"golang.org/x/sys/windows"
)

// The Windows side of oshelpers_unix_test.go.

const (
	haveReusePort    = false // Windows has no SO_REUSEPORT: ErrNotSupported
	haveUnixDatagram = false // Windows's AF_UNIX has stream sockets only
	sockStream       = windows.SOCK_STREAM
	sockDgram        = windows.SOCK_DGRAM
)

var (
	errConnRefused = windows.WSAECONNREFUSED
	errAddrInUse   = windows.WSAEADDRINUSE
	errWrongType   = windows.WSAEPROTOTYPE
	// Windows documents WSAENOTCONN and WSAEDESTADDRREQ; Wine 8 reports
	// a send on a socket whose association was dissolved as WSAEINVAL.
	errNoTarget     = []error{windows.WSAENOTCONN, windows.WSAEDESTADDRREQ, windows.WSAEINVAL}
	errNoSocketFile = []error{windows.WSAECONNREFUSED, windows.WSAENETDOWN, windows.ERROR_FILE_NOT_FOUND, windows.ERROR_PATH_NOT_FOUND}
)

// sockOptRaw reads an integer option of the driver's socket h.
func sockOptRaw(t *testing.T, d *Driver, h SocketHandle, level, opt int) int {
	t.Helper()
	v, err := windows.GetsockoptInt(d.l.fdEntry(socketRaw(h)).v.fd, level, opt)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func rawSocket(t testing.TB, typ int) uintptr {
	t.Helper()
	s, err := windows.WSASocket(windows.AF_INET, int32(typ), 0, nil, 0, windows.WSA_FLAG_OVERLAPPED)
	if err != nil {
		t.Fatal(err)
	}
	return uintptr(s)
}

func rawClose(fd uintptr) { windows.Closesocket(windows.Handle(fd)) }

func rawBindLoopback(fd uintptr) error {
	return windows.Bind(windows.Handle(fd), &windows.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}})
}

func rawListen(fd uintptr, backlog int) error { return windows.Listen(windows.Handle(fd), backlog) }

func rawPort(fd uintptr) uint16 {
	sa, _ := windows.Getsockname(windows.Handle(fd))
	if sa, ok := sa.(*windows.SockaddrInet4); ok {
		return uint16(sa.Port)
	}
	return 0
}

// rawConnect makes a blocking connect to 127.0.0.1:port. It allocates
// nothing (the allocation tests use it).
func rawConnect(fd uintptr, port uint16) error {
	rawPeer = windows.SockaddrInet4{Port: int(port), Addr: [4]byte{127, 0, 0, 1}}
	return windows.Connect(windows.Handle(fd), &rawPeer)
}

var rawPeer windows.SockaddrInet4

func rawWrite(fd uintptr, p []byte) error {
	var n uint32
	buf := windows.WSABuf{Len: uint32(len(p)), Buf: unsafe.SliceData(p)}
	return windows.WSASend(windows.Handle(fd), &buf, 1, &n, 0, nil, nil)
}

// rawStreamPair connects two TCP sockets over the loopback interface:
// Windows has no socketpair.
func rawStreamPair(t *testing.T) [2]uintptr {
	t.Helper()
	lst := rawSocket(t, sockStream)
	defer rawClose(lst)
	if err := rawBindLoopback(lst); err != nil {
		t.Fatal(err)
	}
	if err := rawListen(lst, 1); err != nil {
		t.Fatal(err)
	}
	c := rawSocket(t, sockStream)
	if err := rawConnect(c, rawPort(lst)); err != nil {
		t.Fatal(err)
	}
	var rsa rawSockaddr
	s, _, err := sysAccept(windows.Handle(lst), &rsa)
	if err != nil {
		t.Fatal(err)
	}
	return [2]uintptr{uintptr(s), c}
}

// peerClosed reports whether the peer of the pair end fd is closed: a
// read sees the end of the stream (or a reset).
func peerClosed(fd uintptr) bool {
	var b [1]byte
	n, err := sysRecv(windows.Handle(fd), b[:], 0)
	return n == 0 || err != nil && err != syscall.Errno(windows.WSAEWOULDBLOCK)
}

// unixUnsupported skips the test when err says that the system has no
// Unix-domain stream sockets (AF_UNIX came with Windows 10 1803), after
// checking that the driver reported that as ErrNotSupported.
func unixUnsupported(t *testing.T, err error) bool {
	t.Helper()
	if errors.Is(err, ErrNotSupported) {
		t.Skipf("Wine 8's ws2_32 socket() does not implement AF_UNIX (as Windows before 10 1803): the driver reports %v", err)
	}
	return false
}

// errPeerReset lists what a write to a peer that reset the connection may
// report: Windows aborts the connection on its side when the reset arrives.
var errPeerReset = []error{windows.WSAECONNRESET, windows.WSAECONNABORTED}

// resetOnClose makes closing the socket fd send a reset instead of an
// orderly end (SO_LINGER with a zero timeout).
func resetOnClose(fd uintptr) error {
	return syscall.SetsockoptLinger(syscall.Handle(fd), syscall.SOL_SOCKET, syscall.SO_LINGER, &syscall.Linger{Onoff: 1, Linger: 0})
}

// quietSignal is a signal that a test may listen for without anyone
// sending it: Ctrl-C, the one that Windows delivers as os.Interrupt.
var quietSignal os.Signal = os.Interrupt

// sleeper returns the Spawn arguments and environment of a child that
// sleeps for an hour: the test binary itself (see helper).
func sleeper() ([]string, map[string]string) { return helper("sleep") }

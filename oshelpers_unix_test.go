//go:build unix

package eventcore

import (
	"os"
	"syscall"
	"testing"
)

// The OS-specific side of the conformance suite: raw sockets made without
// the driver (to adopt, or as plain clients), option names, and the error
// codes the OS reports. oshelpers_windows_test.go has the Windows side.

const (
	haveReusePort    = true // SO_REUSEPORT
	haveUnixDatagram = true
	sockStream       = syscall.SOCK_STREAM
	sockDgram        = syscall.SOCK_DGRAM
)

var (
	errConnRefused = syscall.ECONNREFUSED
	errAddrInUse   = syscall.EADDRINUSE
	errWrongType   = syscall.EPROTOTYPE
	// what a send with no target on an unconnected datagram socket gives
	errNoTarget = []error{syscall.EDESTADDRREQ}
	// what connecting to a missing Unix-domain socket file gives
	errNoSocketFile = []error{syscall.ENOENT}
)

// sockOptRaw reads an integer option of the driver's socket h.
func sockOptRaw(t *testing.T, d *Driver, h SocketHandle, level, opt int) int {
	t.Helper()
	v, err := syscall.GetsockoptInt(int(d.l.fdEntry(socketRaw(h)).v.fd), level, opt)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// rawSocket makes an IPv4 socket of type typ the driver does not own.
func rawSocket(t testing.TB, typ int) uintptr {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, typ, 0)
	if err != nil {
		t.Fatal(err)
	}
	return uintptr(fd)
}

func rawClose(fd uintptr) { syscall.Close(int(fd)) }

func rawBindLoopback(fd uintptr) error {
	return syscall.Bind(int(fd), &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}})
}

func rawListen(fd uintptr, backlog int) error { return syscall.Listen(int(fd), backlog) }

func rawPort(fd uintptr) uint16 {
	sa, _ := syscall.Getsockname(int(fd))
	if sa, ok := sa.(*syscall.SockaddrInet4); ok {
		return uint16(sa.Port)
	}
	return 0
}

// rawConnect makes a blocking connect to 127.0.0.1:port. It allocates
// nothing (the allocation tests use it).
func rawConnect(fd uintptr, port uint16) error {
	rawPeer = syscall.SockaddrInet4{Port: int(port), Addr: [4]byte{127, 0, 0, 1}}
	return syscall.Connect(int(fd), &rawPeer)
}

var rawPeer syscall.SockaddrInet4

func rawWrite(fd uintptr, p []byte) error {
	_, err := syscall.Write(int(fd), p)
	return err
}

// rawStreamPair returns two connected stream sockets the driver does not
// own.
func rawStreamPair(t *testing.T) [2]uintptr {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	return [2]uintptr{uintptr(fds[0]), uintptr(fds[1])}
}

// peerClosed reports whether the peer of the pair end fd is closed: a
// write to it fails.
func peerClosed(fd uintptr) bool { return rawWrite(fd, []byte("x")) != nil }

// unixUnsupported reports whether err says that the system has no
// Unix-domain stream sockets; every POSIX system has them.
func unixUnsupported(*testing.T, error) bool { return false }

// errPeerReset lists what a write to a peer that reset the connection may
// report: the reset itself, or EPIPE when the kernel saw it first.
var errPeerReset = []error{syscall.ECONNRESET, syscall.EPIPE}

// resetOnClose makes closing the socket fd send a reset instead of an
// orderly end (SO_LINGER with a zero timeout).
func resetOnClose(fd uintptr) error {
	return syscall.SetsockoptLinger(int(fd), syscall.SOL_SOCKET, syscall.SO_LINGER, &syscall.Linger{Onoff: 1, Linger: 0})
}

// quietSignal is a signal that a test may listen for without anyone
// sending it.
var quietSignal os.Signal = syscall.SIGWINCH

// sleeper returns the Spawn arguments and environment of a child that
// sleeps for a minute or more.
func sleeper() ([]string, map[string]string) { return []string{"sleep", "60"}, nil }

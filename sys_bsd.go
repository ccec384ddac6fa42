//go:build darwin || dragonfly || freebsd || netbsd || openbsd

package eventcore

import (
	"time"

	"golang.org/x/sys/unix"
)

// The BSDs' part of the socket-address codec (sys_unix.go) and their
// system calls that differ from Linux's.

// abstractUnixPaths: the BSDs have no abstract namespace; a Unix-domain
// path starting with '@' is a file name like any other.
const abstractUnixPaths = false

// setSockaddrLen fills the length byte that BSD socket addresses start with.
func setSockaddrLen(rsa *unix.RawSockaddrAny, n uint32) { rsa.Addr.Len = uint8(n) }

// pollReadable reports whether a read on fd would not block (data, the end
// of the stream, or an error to collect), without reading.
func pollReadable(fd int32) (bool, error) {
	pfd := [1]unix.PollFd{{Fd: fd, Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(pfd[:], 0)
		if err == unix.EINTR {
			continue
		}
		return n > 0, err
	}
}

// pollHold: the BSDs' poll driver does not hold (pollCanHold; see
// "Holding" in loop_posix.go), so this is plain poll(2).
func pollHold(fds []unix.PollFd, timeout time.Duration) (int, error) {
	return unix.Poll(fds, waitMillis(timeout))
}

const pollCanHold = false

// sysDisconnect dissolves a datagram socket's association. A BSD kernel
// disconnects a connected datagram socket before it tries to connect it
// again, so connecting to a null address does it, and then fails (libuv
// relies on this too); whether the socket ended up unconnected is what
// counts.
func sysDisconnect(fd int) error {
	err := unix.Connect(fd, &unix.SockaddrInet4{})
	if _, perr := unix.Getpeername(fd); perr == unix.ENOTCONN {
		return nil
	}
	if err == nil {
		err = unix.EISCONN
	}
	return err
}

// urgentByteAtMark: the BSDs take the urgent byte out of the stream as
// it arrives, and their receive does not turn back at the mark for a
// pending signal as Linux's does (see sysRead).
func urgentByteAtMark(sysFD) bool { return false }

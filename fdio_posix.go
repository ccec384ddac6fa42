//go:build unix

package eventcore

import "golang.org/x/sys/unix"

// The readiness drivers' side of fdio.go: the non-blocking calls, and the
// hooks that have nothing to do because the poller reports readiness by
// itself and nothing of the kernel's is in flight.

// sysFD is a descriptor; fdSys is the readiness drivers' part of one.
type sysFD = int32

const invalidFD sysFD = -1

type fdSys struct {
	interest readyBits // what a level-triggered poller watches
}

var (
	errWouldBlock error = unix.EAGAIN
	errNotConn    error = unix.ENOTCONN
)

func (l *loop) serviceWrite(h handle, e *entry[fdObj]) {
	if h.kind() == kindStreamSocket && e.v.state == ConnectionConnecting {
		l.finishConnect(h, e)
	} else {
		l.serviceSendOp(h, e)
	}
}

func (l *loop) sysRead(_ handle, e *entry[fdObj], p []byte) (int, error) {
	for {
		n, err := unix.Read(int(e.v.fd), p)
		if err != unix.EINTR {
			return n, err
		}
	}
}

// sysWrite writes to a stream socket with MSG_NOSIGNAL, which keeps a
// closed peer from raising SIGPIPE, and to a pipe with write(2).
func (l *loop) sysWrite(h handle, e *entry[fdObj], p []byte) (int, error) {
	if h.kind() != kindPipe {
		return sysSend(int(e.v.fd), p)
	}
	for {
		n, err := unix.Write(int(e.v.fd), p)
		if err != unix.EINTR {
			return n, err
		}
	}
}

// isDisconnect tells the errors that end a connection.
func isDisconnect(err error) bool {
	switch err {
	case unix.ECONNRESET, unix.EPIPE, unix.ENOTCONN, unix.ETIMEDOUT, unix.ECONNABORTED,
		unix.ENETRESET, unix.EHOSTUNREACH, unix.ENETUNREACH:
		return true
	}
	return false
}

func sysShutdown(fd sysFD, read, write bool) error {
	how := unix.SHUT_RDWR
	switch {
	case read && !write:
		how = unix.SHUT_RD
	case write && !read:
		how = unix.SHUT_WR
	}
	if err := unix.Shutdown(int(fd), how); err != nil && err != unix.ENOTCONN {
		return err
	}
	return nil
}

// readable reports whether a read on e would not block (data, end of
// stream, or an error to collect), without reading.
func (l *loop) readable(_ handle, e *entry[fdObj]) (bool, error) {
	pfd := [1]unix.PollFd{{Fd: e.v.fd, Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(pfd[:], 0)
		if err == unix.EINTR {
			continue
		}
		return n > 0, err
	}
}

func (l *loop) writeMode(_ handle, m IOMode) IOMode    { return m }
func (l *loop) awaitRead(handle, *entry[fdObj])        {}
func (l *loop) awaitWrite(handle, *entry[fdObj], Addr) {}
func (l *loop) writeInFlight(*entry[fdObj]) bool       { return false }
func (l *loop) cancelSys(*entry[fdObj], bool)          {}

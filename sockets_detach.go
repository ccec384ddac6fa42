package eventcore

import "fmt"

// Detach takes the stream socket's descriptor (a SOCKET on Windows) out of
// the driver without closing it, and returns it. The socket is unregistered
// from the loop (its poller, or its table of sockets on Windows) and its
// handle is released whatever its reference count, as CancelConnectStream
// does: the handle is refused from then on and its user data is dropped.
// Detach runs no callback.
//
// The descriptor, left in non-blocking mode, belongs to the caller, who
// closes it or passes it to [Sockets.AdoptStream] of a driver, this one or
// another (from that driver's owner goroutine: [Core.RunInOwnerThread]
// takes it there). That is how a connection accepted on one loop moves to
// another. Bytes the peer has sent and no read has taken stay in the socket
// for the next owner. What only the loop knew stays behind: the adopting
// driver starts the socket in ConnectionConnected whatever directions were
// shut down, and LastError starts empty.
//
// A socket with an operation pending (a read, a write, WaitForData, a
// connect in progress) is refused, and nothing changes: the error wraps
// [ErrBusy]; cancel the operation first. So is a socket whose data the
// loop received and no read has taken yet (on io_uring, after loaned
// reads, the ring receives ahead): read it first. An invalid handle gets
// [ErrInvalidHandle], a socket whose descriptor the driver closed already
// (after a failed connect) [ErrClosed].
func (s Sockets) Detach(sock StreamSocket) (uintptr, error) { return s.l.sockDetach(sock.h) }

var (
	errDetachPending = fmt.Errorf("%w: cannot detach a socket with a read, write or connect pending", ErrBusy)
	errDetachHeld    = fmt.Errorf("%w: cannot detach a socket whose received data the loop holds: read it first", ErrBusy)
)

func (l *loop) sockDetach(h handle) (uintptr, error) {
	e := l.fds.get(h, kindStreamSocket)
	switch {
	case e == nil:
		return 0, ErrInvalidHandle
	case e.v.fd == invalidFD:
		return 0, ErrClosed
	case e.v.rd.active || e.v.wr.active:
		e.setErr(errDetachPending)
		return 0, errDetachPending
	case !l.recvQuiet(e):
		e.setErr(errDetachHeld)
		return 0, errDetachHeld
	}
	fd := l.detachSysFD(e)
	l.fds.release(h, e)
	return uintptr(fd), nil
}

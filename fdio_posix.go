//go:build unix

package eventcore

import (
	"time"

	"golang.org/x/sys/unix"
)

// Reads and writes on descriptors watched by the poller: stream sockets,
// pipes, datagram sockets. Every operation first tries its non-blocking
// system call; only when that would block does it wait for the poller, which
// then calls onReady → serviceRead/serviceWrite. So an operation that can
// complete at once costs one system call, and no readiness is ever missed:
// an edge that came before the operation started is covered by the first
// attempt.

type fdObj struct {
	fd       int32
	state    ConnectionState
	flags    fdFlags
	interest readyBits // what a level-triggered poller watches
	rd, wr   ioOp
	ext      *fdExt
}

type fdFlags uint8

const (
	fdUnix      fdFlags = 1 << iota // AF_UNIX
	fdIPv6                          // AF_INET6
	fdShutWrite                     // we shut down writing
	fdPaused                        // a listener waits out an accept failure
)

// ioOp is one pending operation: a read or receive (fdObj.rd), a write,
// send or connect (fdObj.wr), or a listener's accept callback (rd).
type ioOp struct {
	buf    []byte
	done   int
	cb     any // the callback of the handle's kind, see loop.callIO
	mode   IOMode
	active bool
}

// fdExt holds what only some descriptors need.
type fdExt struct {
	to       Addr          // datagram: where the pending send goes
	peerPath string        // datagram: last Unix-domain sender, reused when it repeats
	unlink   string        // Unix listener: the socket file to remove when freed
	retry    handle        // listener: internal timer resuming a paused accept
	backoff  time.Duration // listener: its current delay
}

func (l *loop) serviceRead(h handle, e *entry[fdObj]) {
	switch h.kind() {
	case kindStreamSocket, kindPipe:
		l.serviceStreamRead(h, e)
	case kindStreamListener:
		l.serviceAccept(h, e)
	case kindDatagramSocket:
		l.serviceReceive(h, e)
	}
}

func (l *loop) serviceWrite(h handle, e *entry[fdObj]) {
	switch h.kind() {
	case kindStreamSocket, kindPipe:
		if e.v.state == ConnectionConnecting {
			l.finishConnect(h, e)
		} else {
			l.serviceStreamWrite(h, e)
		}
	case kindDatagramSocket:
		l.serviceSend(h, e)
	}
}

// usable checks that a read (or write) may start on e, and reports the
// failure through cb if not.
func (l *loop) usable(h handle, e *entry[fdObj], write bool, cb any) bool {
	switch {
	case e == nil:
		l.callIO(cb, h, IOStatusInvalidHandle, 0, Addr{})
	case e.v.fd < 0 && h.kind() == kindPipe:
		e.err = ErrClosed
		l.callIO(cb, h, IOStatusNotAllowed, 0, Addr{})
	case e.v.fd < 0 || e.v.state == ConnectionConnecting:
		// Checked before busy: a connecting socket's connect occupies the
		// write slot, yet a write then is "not connected", not "busy".
		e.err = unix.ENOTCONN
		l.callIO(cb, h, IOStatusError, 0, Addr{})
	case !write && e.v.rd.active, write && e.v.wr.active:
		e.err = ErrBusy
		l.callIO(cb, h, IOStatusBusy, 0, Addr{})
	default:
		return true
	}
	return false
}

// fdRead starts a read on a stream socket or pipe.
func (l *loop) fdRead(h handle, k kind, buf []byte, mode IOMode, cb any) {
	e := l.fds.get(h, k)
	if !l.usable(h, e, false, cb) {
		return
	}
	e.v.rd = ioOp{buf: buf, cb: cb, mode: mode, active: true}
	l.waiters++
	if l.depth >= maxSyncDepth {
		l.deferService(h)
	} else {
		l.serviceStreamRead(h, e)
	}
	l.syncInterest(h)
}

func (l *loop) serviceStreamRead(h handle, e *entry[fdObj]) {
	op := &e.v.rd
	fd := int(e.v.fd)
	if len(op.buf) == 0 {
		l.serviceWaitReadable(h, e, op)
		return
	}
	for {
		n, err := unix.Read(fd, op.buf[op.done:])
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			if op.mode == IOModeImmediate {
				l.complete(h, op, statusSoFar(op), Addr{})
			}
			return
		case err != nil:
			l.complete(h, op, l.streamFailed(e, err), Addr{})
			return
		case n == 0:
			switch e.v.state {
			case ConnectionConnected:
				e.v.state = ConnectionPassiveClose
			case ConnectionActiveClose:
				e.v.state = ConnectionClosed
			}
			l.complete(h, op, IOStatusDisconnected, Addr{})
			return
		}
		op.done += n
		if op.mode != IOModeAll || op.done == len(op.buf) {
			l.complete(h, op, IOStatusOK, Addr{})
			return
		}
	}
}

// serviceWaitReadable completes a zero-length read or receive once data
// could be read.
func (l *loop) serviceWaitReadable(h handle, e *entry[fdObj], op *ioOp) {
	ok, err := readable(int(e.v.fd))
	switch {
	case err != nil:
		e.err = err
		l.complete(h, op, IOStatusError, Addr{})
	case ok:
		l.complete(h, op, IOStatusOK, Addr{})
	case op.mode == IOModeImmediate:
		l.complete(h, op, IOStatusWouldBlock, Addr{})
	}
}

// fdWrite starts a write on a stream socket or pipe.
func (l *loop) fdWrite(h handle, k kind, buf []byte, mode IOMode, cb any) {
	e := l.fds.get(h, k)
	if !l.usable(h, e, true, cb) {
		return
	}
	if e.v.flags&fdShutWrite != 0 {
		e.err = ErrClosed
		l.callIO(cb, h, IOStatusDisconnected, 0, Addr{})
		return
	}
	if len(buf) == 0 {
		l.callIO(cb, h, IOStatusOK, 0, Addr{})
		return
	}
	e.v.wr = ioOp{buf: buf, cb: cb, mode: mode, active: true}
	l.waiters++
	if l.depth >= maxSyncDepth {
		l.deferService(h)
	} else {
		l.serviceStreamWrite(h, e)
	}
	l.syncInterest(h)
}

func (l *loop) serviceStreamWrite(h handle, e *entry[fdObj]) {
	op := &e.v.wr
	fd := int(e.v.fd)
	for {
		var n int
		var err error
		if h.kind() == kindPipe {
			n, err = unix.Write(fd, op.buf[op.done:])
		} else {
			n, err = sysSend(fd, op.buf[op.done:])
		}
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			if op.mode == IOModeImmediate {
				l.complete(h, op, statusSoFar(op), Addr{})
			}
			return
		case err != nil:
			l.complete(h, op, l.streamFailed(e, err), Addr{})
			return
		}
		op.done += n
		if op.done == len(op.buf) || op.mode == IOModeOnce {
			l.complete(h, op, IOStatusOK, Addr{})
			return
		}
	}
}

func statusSoFar(op *ioOp) IOStatus {
	if op.done > 0 {
		return IOStatusOK
	}
	return IOStatusWouldBlock
}

// streamFailed records err and tells whether it ended the connection.
func (l *loop) streamFailed(e *entry[fdObj], err error) IOStatus {
	e.err = err
	switch err {
	case unix.ECONNRESET, unix.EPIPE, unix.ENOTCONN, unix.ETIMEDOUT, unix.ECONNABORTED,
		unix.ENETRESET, unix.EHOSTUNREACH, unix.ENETUNREACH:
		e.v.state = ConnectionClosed
		return IOStatusDisconnected
	}
	return IOStatusError
}

// complete ends the pending operation op of h and runs its callback.
func (l *loop) complete(h handle, op *ioOp, st IOStatus, addr Addr) {
	cb, n := op.cb, op.done
	*op = ioOp{}
	l.waiters--
	l.callIO(cb, h, st, n, addr)
}

// fdCancel cancels the pending read (or write) of h: no callback.
func (l *loop) fdCancel(h handle, k kind, write bool) {
	e := l.fds.get(h, k)
	if e == nil {
		return
	}
	op := &e.v.rd
	if write {
		if e.v.state == ConnectionConnecting {
			return // the connect, cancelled only by CancelConnectStream
		}
		op = &e.v.wr
	}
	if op.active {
		*op = ioOp{}
		l.waiters--
		l.syncInterest(h)
	}
}

package eventcore

// The I/O state machines of stream and datagram sockets, shared by every
// driver family. Each operation first makes its non-blocking system call
// (sysRead, sysWrite, sysRecvFrom, sysSendTo: per OS), so an operation that
// can complete at once costs one call and runs its callback before the
// method returns. When the call would block, awaitRead/awaitWrite arrange
// to be told: nothing to do for a readiness poller, which reports the
// socket by itself (loop_posix.go), an overlapped zero-byte receive or
// send on Windows (sockets_windows.go). Either way the service function
// runs again when the socket may be ready.

func (l *loop) streamRead(h handle, buf []byte, mode IOMode, cb IOCallback) {
	e := l.fds.get(h, kindStreamSocket)
	if e == nil {
		l.callIO(cb, h, IOStatusInvalidHandle, 0)
		return
	}
	if e.v.rd.active {
		e.err = ErrBusy
		l.callIO(cb, h, IOStatusBusy, 0)
		return
	}
	if e.v.fd == invalidFD || e.v.state == ConnectionConnecting {
		e.err = errNotConn
		l.callIO(cb, h, IOStatusError, 0)
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
	if len(op.buf) == 0 {
		l.serviceWaitReadable(h, e, op)
		return
	}
	for {
		n, err := sysRead(e.v.fd, op.buf[op.done:])
		switch {
		case err == errWouldBlock:
			if op.mode == IOModeImmediate {
				l.completeStream(h, op, statusSoFar(op))
			} else {
				l.awaitRead(h, e)
			}
			return
		case err != nil:
			l.completeStream(h, op, l.streamFailed(e, err))
			return
		case n == 0:
			switch e.v.state {
			case ConnectionConnected:
				e.v.state = ConnectionPassiveClose
			case ConnectionActiveClose:
				e.v.state = ConnectionClosed
			}
			l.completeStream(h, op, IOStatusDisconnected)
			return
		}
		op.done += n
		if op.mode != IOModeAll || op.done == len(op.buf) {
			l.completeStream(h, op, IOStatusOK)
			return
		}
	}
}

// serviceWaitReadable completes a zero-length read or receive once data
// could be read.
func (l *loop) serviceWaitReadable(h handle, e *entry[fdObj], op *ioOp) {
	ok, err := l.readable(e)
	switch {
	case err != nil:
		e.err = err
		l.complete(h, op, IOStatusError, Addr{})
	case ok:
		l.complete(h, op, IOStatusOK, Addr{})
	case op.mode == IOModeImmediate:
		l.complete(h, op, IOStatusWouldBlock, Addr{})
	default:
		l.awaitRead(h, e)
	}
}

func (l *loop) streamWrite(h handle, buf []byte, mode IOMode, cb IOCallback) {
	e := l.fds.get(h, kindStreamSocket)
	if e == nil {
		l.callIO(cb, h, IOStatusInvalidHandle, 0)
		return
	}
	if e.v.wr.active {
		e.err = ErrBusy
		l.callIO(cb, h, IOStatusBusy, 0)
		return
	}
	if e.v.fd == invalidFD || e.v.state == ConnectionConnecting {
		e.err = errNotConn
		l.callIO(cb, h, IOStatusError, 0)
		return
	}
	if e.v.flags&fdShutWrite != 0 {
		e.err = ErrClosed
		l.callIO(cb, h, IOStatusDisconnected, 0)
		return
	}
	if len(buf) == 0 {
		l.callIO(cb, h, IOStatusOK, 0)
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
	if l.writeInFlight(e) {
		return
	}
	for {
		n, err := sysWrite(e.v.fd, op.buf[op.done:])
		switch {
		case err == errWouldBlock:
			if op.mode == IOModeImmediate {
				l.completeStream(h, op, statusSoFar(op))
			} else {
				l.awaitWrite(h, e, Addr{})
			}
			return
		case err != nil:
			l.completeStream(h, op, l.streamFailed(e, err))
			return
		}
		if l.wrote(h, op, n) {
			return
		}
	}
}

// wrote accounts n more bytes written by the pending write op of h, and
// completes it if that was all it had to write.
func (l *loop) wrote(h handle, op *ioOp, n int) bool {
	op.done += n
	if op.done == len(op.buf) || op.mode == IOModeOnce {
		l.completeStream(h, op, IOStatusOK)
		return true
	}
	return false
}

// streamFailed records err and tells whether it ended the connection.
func (l *loop) streamFailed(e *entry[fdObj], err error) IOStatus {
	e.err = err
	if isDisconnect(err) {
		e.v.state = ConnectionClosed
		return IOStatusDisconnected
	}
	return IOStatusError
}

func (l *loop) sockCancel(h handle, k kind, write bool) {
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
		l.cancelSys(e, write)
		*op = ioOp{}
		l.waiters--
		l.syncInterest(h)
	}
}

func (l *loop) sockShutdown(h handle, read, write bool) error {
	e := l.fds.get(h, kindStreamSocket)
	if e == nil {
		return ErrInvalidHandle
	}
	if e.v.fd == invalidFD || e.v.state == ConnectionConnecting {
		return errNotConn
	}
	if !read && !write {
		return nil
	}
	if err := sysShutdown(e.v.fd, read, write); err != nil {
		e.err = err
		return err
	}
	if write {
		e.v.flags |= fdShutWrite
		switch e.v.state {
		case ConnectionConnected:
			e.v.state = ConnectionActiveClose
		case ConnectionPassiveClose:
			e.v.state = ConnectionClosed
		}
	}
	if read && write {
		e.v.state = ConnectionClosed
	}
	if write && e.v.wr.active {
		e.err = ErrClosed
		l.cancelSys(e, true)
		l.completeStream(h, &e.v.wr, IOStatusDisconnected)
		if e = l.fds.get(h, kindStreamSocket); e == nil {
			return nil
		}
	}
	if read && e.v.rd.active {
		l.cancelSys(e, false)
		l.completeStream(h, &e.v.rd, IOStatusDisconnected)
	}
	l.syncInterest(h)
	return nil
}

// ---- datagram sockets ----

func (l *loop) dgramReceive(h handle, buf []byte, mode IOMode, cb DatagramIOCallback) {
	e := l.fds.get(h, kindDatagramSocket)
	if e == nil {
		l.callDgram(cb, h, IOStatusInvalidHandle)
		return
	}
	if e.v.rd.active {
		e.err = ErrBusy
		l.callDgram(cb, h, IOStatusBusy)
		return
	}
	e.v.rd = ioOp{buf: buf, cb: cb, mode: mode, active: true}
	l.waiters++
	if l.depth >= maxSyncDepth {
		l.deferService(h)
	} else {
		l.serviceReceive(h, e)
	}
	l.syncInterest(h)
}

func (l *loop) serviceReceive(h handle, e *entry[fdObj]) {
	op := &e.v.rd
	if len(op.buf) == 0 {
		l.serviceWaitReadable(h, e, op)
		return
	}
	n, salen, err := sysRecvFrom(e.v.fd, op.buf, &l.rsa)
	switch err {
	case nil:
		op.done = n
		from := decodeSockaddr(&l.rsa, salen, &e.v.ext.peerPath)
		if salen == 0 && e.v.flags&fdUnix != 0 {
			from = Addr{unix: true} // an unnamed Unix-domain sender
		}
		l.complete(h, op, IOStatusOK, from)
	case errWouldBlock:
		if op.mode == IOModeImmediate {
			l.complete(h, op, IOStatusWouldBlock, Addr{})
		} else {
			l.awaitRead(h, e)
		}
	default:
		e.err = err
		l.complete(h, op, IOStatusError, Addr{})
	}
}

func (l *loop) dgramSend(h handle, buf []byte, mode IOMode, to Addr, cb DatagramIOCallback) {
	e := l.fds.get(h, kindDatagramSocket)
	if e == nil {
		l.callDgram(cb, h, IOStatusInvalidHandle)
		return
	}
	if e.v.wr.active {
		e.err = ErrBusy
		l.callDgram(cb, h, IOStatusBusy)
		return
	}
	e.v.wr = ioOp{buf: buf, cb: cb, mode: mode, active: true}
	e.v.ext.to = to
	l.waiters++
	if l.depth >= maxSyncDepth {
		l.deferService(h)
	} else {
		l.serviceSend(h, e)
	}
	l.syncInterest(h)
}

func (l *loop) serviceSend(h handle, e *entry[fdObj]) {
	op := &e.v.wr
	to := e.v.ext.to
	if l.writeInFlight(e) {
		return
	}
	var n int
	var err error
	if to.IsZero() {
		n, err = sysWrite(e.v.fd, op.buf)
	} else {
		var salen int32
		if salen, err = encodeSockaddr(to, &l.rsa); err == nil {
			n, err = sysSendTo(e.v.fd, op.buf, &l.rsa, salen)
		}
	}
	switch err {
	case nil:
		op.done = n
		l.complete(h, op, IOStatusOK, to)
	case errWouldBlock:
		if op.mode == IOModeImmediate {
			l.complete(h, op, IOStatusWouldBlock, to)
		} else {
			l.awaitWrite(h, e, to)
		}
	default:
		e.err = err
		l.complete(h, op, IOStatusError, to)
	}
}

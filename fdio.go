package eventcore

import (
	"os"
	"time"
)

// Reads and writes on stream sockets, pipes and datagram sockets, shared
// by every driver family. Every operation first makes its non-blocking
// system call (sysRead, sysWrite, sysRecvFrom, sysSendTo: per OS), so an
// operation that can complete at once costs one call and may run its
// callback before the method returns. When the call would block,
// awaitRead/awaitWrite arrange to be told when to try again: nothing to do
// for a readiness poller, which reports the descriptor by itself
// (loop_posix.go); an overlapped zero-byte receive or an overlapped send on
// Windows (sockets_windows.go). Either way the service function runs again
// when the descriptor may be ready, and no readiness is ever missed: an
// edge that came before the operation started is covered by the first
// attempt.

// fdObj is a socket or pipe. fd is the descriptor (a SOCKET or HANDLE on
// Windows), invalidFD once closed; sys holds what only one family needs.
type fdObj struct {
	fd     sysFD
	state  ConnectionState
	flags  fdFlags
	rd, wr ioOp
	ext    *fdExt
	sys    fdSys
}

type fdFlags uint8

const (
	fdUnix      fdFlags = 1 << iota // AF_UNIX
	fdIPv6                          // AF_INET6
	fdShutWrite                     // we shut down writing
	fdShutRead                      // we shut down reading
	fdPaused                        // a listener waits out an accept failure
	fdRingRecv                      // the poller receives, reads take from it (fdio_ringrecv.go)
)

// ioOp is one pending operation: a read or receive (fdObj.rd), a write,
// send or connect (fdObj.wr), or a listener's accept callback (rd).
type ioOp struct {
	buf    []byte
	done   int
	cb     any // the callback of the handle's kind, see loop.callIO
	mode   IOMode
	active bool // pending: counted among the loop's waiters (arm, disarm)
	loan   bool // a loaned read (loan.go): buf is nil, cb a LoanCallback
}

// arm makes op pending with v, and counts it among the loop's waiters,
// unless it was pending already (a listener's accept callback replaced).
// With disarm, it is the only place where an ioOp becomes or stops being
// a waiter.
func (l *loop) arm(op *ioOp, v ioOp) {
	if !op.active {
		l.waiters++
	}
	v.active = true
	*op = v
}

// disarm ends op and returns what it held; if it was pending, it stops
// counting among the loop's waiters.
func (l *loop) disarm(op *ioOp) ioOp {
	v := *op
	if v.active {
		l.waiters--
	}
	*op = ioOp{}
	return v
}

// fdExt holds what only some descriptors need.
type fdExt struct {
	to       Addr          // datagram: where the pending send goes
	peerPath string        // datagram: last Unix-domain sender, reused when it repeats
	unlink   string        // Unix listener: the socket file to remove when freed
	retry    handle        // listener: internal timer resuming a paused accept
	backoff  time.Duration // listener: its current delay
}

// maxRW caps the bytes one system call is asked to move; a larger transfer
// goes on in further calls, as a short one does. macOS and the BSDs refuse
// a read or write of more than INT_MAX bytes, Windows' recv and send take
// an int, an io_uring request's length has 32 bits.
const maxRW = 1 << 30

// capRW is the part of p that one system call is asked to move.
func capRW(p []byte) []byte { return p[:min(len(p), maxRW)] }

// maxAcceptBatch bounds the connections accepted in one go, so that a
// flood of them cannot starve the loop's other work.
const maxAcceptBatch = 64

// fdEntry returns the live descriptor entry h names, whatever its kind.
func (l *loop) fdEntry(h handle) *entry[fdObj] {
	switch k := h.kind(); k {
	case kindStreamSocket, kindStreamListener, kindDatagramSocket, kindPipe:
		return l.fds.get(h, k)
	}
	return nil
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

// usable checks that a read (or write) may start on e, and reports the
// failure through cb if not.
func (l *loop) usable(h handle, e *entry[fdObj], write bool, cb any) bool {
	shut := fdShutRead
	if write {
		shut = fdShutWrite
	}
	switch {
	case e == nil:
		l.callIO(cb, h, IOStatusInvalidHandle, 0, Addr{})
	case e.v.fd == invalidFD && h.kind() == kindPipe:
		e.setErr(ErrClosed)
		l.callIO(cb, h, IOStatusNotAllowed, 0, Addr{})
	case e.v.fd == invalidFD || e.v.state == ConnectionConnecting:
		// Checked before busy: a connecting socket's connect occupies the
		// write slot, yet a write then is "not connected", not "busy".
		e.setErr(errNotConn)
		l.callIO(cb, h, IOStatusError, 0, Addr{})
	case e.v.flags&shut != 0:
		e.setErr(ErrClosed)
		l.callIO(cb, h, IOStatusDisconnected, 0, Addr{})
	case !write && e.v.rd.active, write && e.v.wr.active:
		e.setErr(ErrBusy)
		l.callIO(cb, h, IOStatusBusy, 0, Addr{})
	default:
		return true
	}
	return false
}

// serviceSendOp runs the pending write or send of h (not a connect).
func (l *loop) serviceSendOp(h handle, e *entry[fdObj]) {
	switch h.kind() {
	case kindStreamSocket, kindPipe:
		l.serviceStreamWrite(h, e)
	case kindDatagramSocket:
		l.serviceSend(h, e)
	}
}

// start runs the read (or write) just armed on h, or leaves it to
// the loop if callbacks are nested too deeply to run it now. An
// IOModeImmediate operation always runs now: it cannot wait, so it cannot
// nest without bound, and its caller may reuse the buffer once it returns.
func (l *loop) start(h handle, e *entry[fdObj], write bool) {
	op := &e.v.rd
	if write {
		op = &e.v.wr
	}
	switch {
	case l.depth >= maxSyncDepth && op.mode != IOModeImmediate:
		l.deferService(h)
	case write:
		l.serviceSendOp(h, e)
	case l.readEmpty(h, e):
		l.awaitRead(h, e) // what servicing the read would come to
	default:
		l.serviceRead(h, e)
	}
	l.syncInterest(h)
}

// fdRead starts a read on a stream socket or pipe.
func (l *loop) fdRead(h handle, k kind, buf []byte, mode IOMode, cb any) {
	e := l.fds.get(h, k)
	if !l.usable(h, e, false, cb) {
		return
	}
	l.arm(&e.v.rd, ioOp{buf: buf, cb: cb, mode: mode})
	l.start(h, e, false)
}

func (l *loop) serviceStreamRead(h handle, e *entry[fdObj]) {
	op := &e.v.rd
	if op.loan {
		l.serviceLoan(h, e, op)
		return
	}
	if len(op.buf) == 0 {
		l.serviceWaitReadable(h, e, op)
		return
	}
	for {
		n, err := l.sysRead(h, e, capRW(op.buf[op.done:]))
		if l.readStopped(h, e, op, n, err) {
			return
		}
		op.done += n
		if op.mode != IOModeAll || op.done == len(op.buf) {
			l.complete(h, op, IOStatusOK, Addr{})
			return
		}
	}
}

// readStopped finishes what a stream read of n bytes, with err, means for
// the pending read op of h when it brought nothing: wait for readiness (or
// complete an IOModeImmediate read), a failure, or the end of the stream.
// It reports false when the read brought data, which is the caller's.
func (l *loop) readStopped(h handle, e *entry[fdObj], op *ioOp, n int, err error) bool {
	switch {
	case err == errWouldBlock:
		if op.mode == IOModeImmediate {
			l.complete(h, op, statusSoFar(op), Addr{})
		} else {
			l.awaitRead(h, e)
		}
	case err != nil:
		l.complete(h, op, l.streamFailed(e, err), Addr{})
	case n == 0:
		halfClosed(e, true)
		l.complete(h, op, IOStatusDisconnected, Addr{})
	default:
		return false
	}
	return true
}

// serviceWaitReadable completes a zero-length read or receive once data
// could be read.
func (l *loop) serviceWaitReadable(h handle, e *entry[fdObj], op *ioOp) {
	ok, err := l.readable(h, e)
	switch {
	case err != nil:
		e.setErr(err)
		l.complete(h, op, IOStatusError, Addr{})
	case ok:
		l.complete(h, op, IOStatusOK, Addr{})
	case op.mode == IOModeImmediate:
		l.complete(h, op, IOStatusWouldBlock, Addr{})
	default:
		l.awaitRead(h, e)
	}
}

// fdWrite starts a write on a stream socket or pipe.
func (l *loop) fdWrite(h handle, k kind, buf []byte, mode IOMode, cb any) {
	e := l.fds.get(h, k)
	if !l.usable(h, e, true, cb) {
		return
	}
	if len(buf) == 0 {
		l.callIO(cb, h, IOStatusOK, 0, Addr{})
		return
	}
	l.arm(&e.v.wr, ioOp{buf: buf, cb: cb, mode: l.writeMode(h, mode)})
	l.start(h, e, true)
}

func (l *loop) serviceStreamWrite(h handle, e *entry[fdObj]) {
	op := &e.v.wr
	if l.writeInFlight(e) {
		return // an overlapped write continues it
	}
	if op.mode != IOModeImmediate && l.sendFirst(h, e) {
		return
	}
	for {
		n, err := l.sysWrite(h, e, capRW(op.buf[op.done:]))
		switch {
		case err == errWouldBlock:
			if op.mode == IOModeImmediate {
				l.complete(h, op, statusSoFar(op), Addr{})
			} else {
				l.awaitWrite(h, e, Addr{})
			}
			return
		case err != nil:
			l.complete(h, op, l.streamFailed(e, err), Addr{})
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
		l.complete(h, op, IOStatusOK, Addr{})
		return true
	}
	return false
}

func statusSoFar(op *ioOp) IOStatus {
	if op.done > 0 {
		return IOStatusOK
	}
	return IOStatusWouldBlock
}

// streamFailed records err and tells whether it ended the connection.
func (l *loop) streamFailed(e *entry[fdObj], err error) IOStatus {
	e.setErr(err)
	if isDisconnect(err) {
		e.v.state = ConnectionClosed
		return IOStatusDisconnected
	}
	return IOStatusError
}

// complete ends the pending operation op of h and runs its callback.
func (l *loop) complete(h handle, op *ioOp, st IOStatus, addr Addr) {
	v := l.disarm(op)
	l.callIO(v.cb, h, st, v.done, addr)
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
		l.cancelSys(e, write)
		l.disarm(op)
		l.syncInterest(h)
	}
}

// ---- stream sockets ----

func (l *loop) callConnect(cb ConnectCallback, h handle, st ConnectStatus) {
	if cb != nil {
		l.depth++
		cb(StreamSocket{h}, st)
		l.depth--
	}
}

func (l *loop) connectFailed(h handle, e *entry[fdObj], cb ConnectCallback, st ConnectStatus, err error) StreamSocket {
	e.setErr(err)
	l.closeSysFD(e)
	e.v.state = ConnectionClosed
	l.callConnect(cb, h, st)
	return StreamSocket{h}
}

// selfConnected reports whether the TCP connection e has just made is to
// itself. A connect to a local port no one listens on may take that very
// port as its source and then reach itself (TCP's simultaneous open): Linux
// does it now and then, and more often where the socket is bound to port 0
// before it connects, as Windows's ConnectEx needs. Nothing listens there,
// so the connect counts as refused, as in Go's net.
func selfConnected(e *entry[fdObj]) bool {
	if e.v.flags&fdUnix != 0 {
		return false
	}
	local, err := sockName(e.v.fd, false)
	if err != nil {
		return false
	}
	peer, err := sockName(e.v.fd, true)
	return err == nil && local == peer
}

func (l *loop) sockCancelConnect(h handle) {
	e := l.fds.get(h, kindStreamSocket)
	if e == nil || e.v.state != ConnectionConnecting {
		return
	}
	l.closeFD(h, e)
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
	if write && e.v.wr.active {
		// A send the poller runs is settled first: what it sent goes
		// before the end of the stream, and counts.
		l.cancelSys(e, true)
	}
	if err := sysShutdown(e.v.fd, read, write); err != nil {
		e.setErr(err)
		if e.v.wr.active {
			l.deferService(h) // the write goes on without the settled send
		}
		return err
	}
	// Both directions are marked before any callback runs, so that an
	// operation a callback starts is refused at once (usable).
	if read {
		e.v.flags |= fdShutRead
		halfClosed(e, true)
		l.recvDrop(e)
	}
	if write {
		e.v.flags |= fdShutWrite
		halfClosed(e, false)
	}
	if op := &e.v.wr; write && op.active {
		st := IOStatusDisconnected
		if op.done == len(op.buf) || op.mode == IOModeOnce && op.done > 0 {
			st = IOStatusOK // the settled send wrote it all
		} else {
			e.setErr(ErrClosed)
		}
		l.complete(h, op, st, Addr{})
		if e = l.fds.get(h, kindStreamSocket); e == nil {
			return nil
		}
	}
	if read && e.v.rd.active {
		e.setErr(ErrClosed)
		l.cancelSys(e, false)
		l.complete(h, &e.v.rd, IOStatusDisconnected, Addr{})
	}
	l.syncInterest(h)
	return nil
}

// halfClosed moves a stream socket's state on when one direction of it
// ends: reading (the peer's stream ended, or we shut down reading) or
// writing (we shut down writing). With both ended it is ConnectionClosed,
// in whatever order and however many calls they ended.
func halfClosed(e *entry[fdObj], reading bool) {
	switch st := e.v.state; {
	case st == ConnectionConnected && reading:
		e.v.state = ConnectionPassiveClose
	case st == ConnectionConnected:
		e.v.state = ConnectionActiveClose
	case st == ConnectionPassiveClose && !reading, st == ConnectionActiveClose && reading:
		e.v.state = ConnectionClosed
	}
}

func (l *loop) sockState(h handle) ConnectionState {
	if e := l.fds.get(h, kindStreamSocket); e != nil {
		return e.v.state
	}
	return ConnectionClosed
}

// acceptPause stops accepting on a listener whose accept failed for want of
// a resource (EMFILE, ENFILE, ENOBUFS, or a socket for AcceptEx on
// Windows): the pending connection stays queued, so a level-triggered
// poller would report the listener again at once (a busy loop), an
// edge-triggered one never again, and Windows would have no AcceptEx
// waiting. Accepting resumes after a backoff that doubles, up to a second,
// while the failures last.
func (l *loop) acceptPause(h handle, e *entry[fdObj]) {
	x := e.v.ext
	if x == nil {
		x = &fdExt{}
		e.v.ext = x
	}
	if x.retry == 0 {
		if x.retry = l.newInternalTimer(func() bool { return l.acceptResume(h) }); x.retry == 0 {
			return
		}
	}
	x.backoff = min(max(2*x.backoff, 5*time.Millisecond), time.Second)
	e.v.flags |= fdPaused
	l.timerSet(x.retry, kindInternalTimer, x.backoff, 0)
}

// acceptResume accepts again on listener h. It runs no callback: the
// accepts are deferred to the loop's next round.
func (l *loop) acceptResume(h handle) bool {
	if e := l.fds.get(h, kindStreamListener); e != nil {
		e.v.flags &^= fdPaused
		l.deferService(h)
		l.syncInterest(h)
	}
	return false
}

// acceptSucceeded ends a listener's backoff: the next failure waits the
// shortest delay again.
func acceptSucceeded(e *entry[fdObj]) {
	if e.v.ext != nil {
		e.v.ext.backoff = 0
	}
}

// ---- datagram sockets ----

// dgramStart checks and registers a receive (or send) on h.
func (l *loop) dgramStart(h handle, write bool, buf []byte, mode IOMode, cb DatagramIOCallback) *entry[fdObj] {
	e := l.fds.get(h, kindDatagramSocket)
	if e == nil {
		l.callIO(cb, h, IOStatusInvalidHandle, 0, Addr{})
		return nil
	}
	op := &e.v.rd
	if write {
		op = &e.v.wr
	}
	if op.active {
		e.setErr(ErrBusy)
		l.callIO(cb, h, IOStatusBusy, 0, Addr{})
		return nil
	}
	l.arm(op, ioOp{buf: buf, cb: cb, mode: mode})
	return e
}

func (l *loop) dgramReceive(h handle, buf []byte, mode IOMode, cb DatagramIOCallback) {
	if e := l.dgramStart(h, false, buf, mode, cb); e != nil {
		l.start(h, e, false)
	}
}

func (l *loop) serviceReceive(h handle, e *entry[fdObj]) {
	op := &e.v.rd
	if len(op.buf) == 0 {
		l.serviceWaitReadable(h, e, op)
		return
	}
	p := capRW(op.buf)
	n, salen, trunc, err := sysRecvFrom(fdArg(e.v.fd), p, &l.rsa)
	l.noteRead(h, e, len(p), n, err)
	switch err {
	case nil:
		op.done = n
		from := decodeSockaddr(&l.rsa, salen, &e.v.ext.peerPath)
		if salen == 0 && e.v.flags&fdUnix != 0 {
			from = Addr{unix: true} // an unnamed Unix-domain sender
		}
		st := IOStatusOK
		if trunc {
			st = IOStatusTruncated
		}
		l.complete(h, op, st, from)
	case errWouldBlock:
		if op.mode == IOModeImmediate {
			l.complete(h, op, IOStatusWouldBlock, Addr{})
		} else {
			l.awaitRead(h, e)
		}
	default:
		e.setErr(err)
		l.complete(h, op, IOStatusError, Addr{})
	}
}

func (l *loop) dgramSend(h handle, buf []byte, mode IOMode, to Addr, cb DatagramIOCallback) {
	if e := l.dgramStart(h, true, buf, mode, cb); e != nil {
		e.v.ext.to = to
		l.start(h, e, true)
	}
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
		n, err = l.sysWrite(h, e, op.buf)
	} else {
		n, err = sysSendTo(fdArg(e.v.fd), op.buf, to, &l.rsa)
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
		e.setErr(err)
		l.complete(h, op, IOStatusError, to)
	}
}

// ---- any descriptor ----

func (l *loop) sockAddRef(h handle) {
	if e := l.fdEntry(h); e != nil {
		e.refs++
	}
}

func (l *loop) sockRelease(h handle) bool {
	e := l.fdEntry(h)
	if e == nil {
		return false
	}
	if e.refs--; e.refs > 0 {
		return true
	}
	l.closeFD(h, e)
	return false
}

// closeFD frees the entry and its descriptor; pending operations are
// dropped without their callbacks.
func (l *loop) closeFD(h handle, e *entry[fdObj]) {
	l.closeSysFD(e)
	l.disarm(&e.v.rd)
	l.disarm(&e.v.wr)
	if x := e.v.ext; x != nil {
		if x.unlink != "" {
			os.Remove(x.unlink)
		}
		l.freeInternalTimer(x.retry)
	}
	l.fds.release(h, e)
}

// pipeClose closes the pipe's descriptor, then completes the operations
// that were pending on it. The descriptor goes first, so that an operation
// their callbacks start finds the pipe closed and is refused
// (IOStatusNotAllowed, see usable) instead of waiting on it for ever.
func (l *loop) pipeClose(h handle, cb PipeCloseCallback) {
	st := CloseStatusOK
	e := l.fds.get(h, kindPipe)
	if e == nil || e.v.fd == invalidFD {
		st = CloseStatusInvalidHandle
	} else {
		ops := [2]*ioOp{&e.v.rd, &e.v.wr}
		for i, op := range ops {
			if op.active {
				l.cancelSys(e, i == 1)
			}
		}
		if err := l.closeSysFD(e); err != nil {
			e.setErr(err)
			st = CloseStatusIOError
		}
		for _, op := range ops {
			if op.active {
				if st == CloseStatusOK {
					e.setErr(ErrClosed)
				}
				l.complete(h, op, IOStatusDisconnected, Addr{})
				if e = l.fds.get(h, kindPipe); e == nil {
					break // the callback released the pipe, dropping the rest
				}
			}
		}
	}
	if cb != nil {
		l.post(func() { cb(Pipe{h}, st) })
	}
}

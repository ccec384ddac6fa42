//go:build unix

package eventcore

// Reads the poller serves itself. A completion poller (io_uring, see
// poller_uring_recv.go) receives on a stream socket from the first loaned
// read on, into buffers of its own, and keeps what it received in order
// until a read takes it: a loaned read is lent a piece in place, Read and
// WaitForData are served from the same pieces (sysRead, readable), so
// that reads of every kind see the bytes once and in order. A readiness
// poller offers no recvRing; loaned reads then read when the socket is
// readable (loan.go).

// recvRing is what a poller that receives by itself offers. Every method
// but recvStart is for a descriptor it serves.
type recvRing interface {
	// recvStart starts receiving on socket fd of h, with pieces of at most
	// size bytes; false if the poller cannot, and the loop reads fd itself.
	// From then on wait reports h readable when data, the end or an error
	// comes while a read waits (recvWant).
	recvStart(fd sysFD, h handle, size int) bool
	// recvTake takes the first piece received, to be released with
	// recvRelease; with none, it says why: EAGAIN (nothing yet), nil (the
	// end of the stream) or the error the receive met.
	recvTake(fd sysFD) (seg uint32, data []byte, err error)
	// recvRelease gives a piece back, or, if taken, to the caller for
	// good.
	recvRelease(seg uint32, taken bool)
	// recvRead copies what was received into buf, as read(2) would.
	recvRead(fd sysFD, buf []byte) (int, error)
	// recvReady reports whether a read would find something.
	recvReady(fd sysFD) bool
	// recvWant: a read waits for data. recvIdle: none does any more.
	recvWant(fd sysFD)
	recvIdle(fd sysFD)
	// recvCancel stops receiving, and returns once the kernel is done; it
	// reports whether received data waits to be read.
	recvCancel(fd sysFD) bool
	// recvForget stops receiving and drops what was received.
	recvForget(fd sysFD)
}

// ringLoan serves the loaned read op of h from the poller's receive, if
// the poller receives; it reports false if the loop must read itself.
func (l *loop) ringLoan(h handle, e *entry[fdObj], op *ioOp) bool {
	if e.v.flags&fdRingRecv == 0 {
		if l.recvs == nil || !l.recvs.recvStart(e.v.fd, h, l.loans.size) {
			return false
		}
		e.v.flags |= fdRingRecv
	}
	seg, data, err := l.recvs.recvTake(e.v.fd)
	if data == nil {
		l.readStopped(h, e, op, 0, err)
		return true
	}
	l.lend(h, op, loan{data: data, seg: seg})
	return true
}

func (l *loop) releaseRingLoan(seg uint32, taken bool) { l.recvs.recvRelease(seg, taken) }

// awaitRead has the poller's receive armed for a read that waits; a
// readiness poller reports the socket by itself.
func (l *loop) awaitRead(_ handle, e *entry[fdObj]) {
	if e.v.flags&fdRingRecv != 0 {
		l.recvs.recvWant(e.v.fd)
	}
}

// recvQuiet stops the poller's receive on e, if any, and reports whether
// nothing it received waits to be read.
func (l *loop) recvQuiet(e *entry[fdObj]) bool {
	return e.v.flags&fdRingRecv == 0 || !l.recvs.recvCancel(e.v.fd)
}

// recvDrop stops the poller's receive on e, if any, and drops what it
// received: e is closing, or no longer reads.
func (l *loop) recvDrop(e *entry[fdObj]) {
	if e.v.flags&fdRingRecv != 0 {
		l.recvs.recvForget(e.v.fd)
		e.v.flags &^= fdRingRecv
	}
}

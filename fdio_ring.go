//go:build unix

package eventcore

// Writes the poller carries out itself. A completion poller (io_uring, see
// poller_uring_send.go) takes a stream socket's write that may wait (not
// IOModeImmediate) as it starts, and hands it to the kernel with its next
// submission, instead of the loop making a non-blocking send now: the
// kernel sends it, when there is room, and reports how much it sent, and
// the loop goes on from there (sendDone). The poller's operation keeps the
// buffer referenced until the kernel is done with it. A readiness poller
// offers no sendRing; these hooks then do nothing, and the loop sends
// itself when the poller reports the socket writable.
//
// A write whose send is in flight when the socket's writing is shut down
// is settled first: the send is cancelled, what it sent counts, and the
// end of the stream follows it. So a program that writes and shuts down
// at once sends what it wrote, as it would where the write completed at
// once, if the socket had room for it.

// sendRing is what a poller that sends by itself offers.
type sendRing interface {
	// send starts sending buf on fd, and returns the operation, or 0 if
	// the poller could not take it (the loop then waits for readiness).
	// When the send completes, wait reports h writable.
	send(fd sysFD, h handle, buf []byte) uint64
	// sent tells whether the operation completed, and then its outcome,
	// and forgets it.
	sent(op uint64) (n int, done bool, err error)
	// cancelSend gives the operation up, and forgets it. It returns once
	// the kernel is done with the buffer, with how much it sent: what it
	// has not sent by then, it never sends.
	cancelSend(op uint64) (sent int)
}

// sendFirst hands the write just started on h to the poller, if it sends
// by itself, and reports whether it took it.
func (l *loop) sendFirst(h handle, e *entry[fdObj]) bool {
	l.awaitWrite(h, e, Addr{})
	return e.v.sys.wrOp != 0
}

func (l *loop) awaitWrite(h handle, e *entry[fdObj], _ Addr) {
	if l.sends == nil || h.kind() != kindStreamSocket {
		return
	}
	wr := &e.v.wr
	e.v.sys.wrOp = l.sends.send(e.v.fd, h, wr.buf[wr.done:])
}

func (l *loop) writeInFlight(e *entry[fdObj]) bool { return e.v.sys.wrOp != 0 }

// cancelSys gives up the send serving e's pending write, if any, adding
// what it sent to the write's count. A read ending so leaves the poller's
// receive with no read waiting.
func (l *loop) cancelSys(e *entry[fdObj], write bool) {
	if !write && e.v.flags&fdRingRecv != 0 {
		l.recvs.recvIdle(e.v.fd) // what was received stays for the next read
	}
	if write && e.v.sys.wrOp != 0 {
		e.v.wr.done += l.sends.cancelSend(e.v.sys.wrOp)
		e.v.sys.wrOp = 0
	}
}

// sendDone takes the outcome of the send serving h's pending write, if it
// has one, and reports whether the write needs nothing more now: it
// completed, or the send is still in flight.
func (l *loop) sendDone(h handle, e *entry[fdObj]) bool {
	n, done, err := l.sends.sent(e.v.sys.wrOp)
	if !done {
		return true
	}
	e.v.sys.wrOp = 0
	if err != nil {
		l.complete(h, &e.v.wr, l.streamFailed(e, err), Addr{})
		return true
	}
	return l.wrote(h, &e.v.wr, n)
}

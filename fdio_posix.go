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
	rdState  rdState   // what is known of the read side, to skip system calls
	readMore bool      // urgent data, the end or an error was reported: a short read may leave more
	readGen  uint32    // loop.waitGen when the descriptor was last read
	wrOp     uint64    // the poller's send serving the pending write (fdio_ring.go); 0 if none
}

// rdState is what the loop knows about whether a read would find
// something, so that it can skip system calls whose result it knows:
// a read that would only say EAGAIN, or a poll(2) for a zero-length read.
type rdState uint8

const (
	rdUnknown  rdState = iota // try the system call
	rdDrained                 // a read emptied the socket; the poller will report new data
	rdReadable                // the poller saw data (or the end, or an error) and nothing read since
)

var (
	errWouldBlock error = unix.EAGAIN
	errNotConn    error = unix.ENOTCONN
)

func (l *loop) serviceWrite(h handle, e *entry[fdObj]) {
	switch {
	case h.kind() == kindStreamSocket && e.v.state == ConnectionConnecting:
		l.finishConnect(h, e)
	case e.v.sys.wrOp != 0 && l.sendDone(h, e):
	default:
		l.serviceSendOp(h, e)
	}
}

// sysRead reads from a stream socket or pipe, unless a read is known to
// find nothing: then the poller reports the descriptor when that changes.
// An IOModeImmediate read always asks, as new data may be there already.
func (l *loop) sysRead(h handle, e *entry[fdObj], p []byte) (int, error) {
	if e.v.flags&fdRingRecv != 0 {
		return l.recvs.recvRead(e.v.fd, p)
	}
	if knownDrained(e) {
		return 0, unix.EAGAIN
	}
	for tries := 0; ; {
		n, err := sysReadFD(int(e.v.fd), p)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN && e.v.sys.readMore && h.kind() == kindStreamSocket &&
			e.v.flags&fdUnix == 0 && urgentByteAtMark(e.v.fd):
			// Linux's TCP read stops at the urgent mark with EAGAIN, rather
			// than stepping over the urgent byte to the data behind it,
			// when a signal is pending for the thread (the runtime
			// preempts goroutines with SIGURG): no event would come for
			// data already queued. The signal is taken as the read
			// returns; read again, and if signals keep coming, again on
			// the loop's next round.
			if tries < markRetries {
				tries++
				continue
			}
			e.v.sys.readGen, e.v.sys.rdState = l.waitGen, rdUnknown
			l.deferService(h)
			return n, err
		}
		l.noteRead(h, e, len(p), n, err)
		return n, err
	}
}

// markRetries bounds the reads again at an urgent mark within one round
// of the loop (see sysRead).
const markRetries = 4

// readEmpty reports that the pending read of h, on a stream socket or a
// pipe, is known to find nothing now (see sysRead), so that it can wait
// for the poller at once: a read armed again from the callback of the last
// one, which emptied the socket, skips the read's whole service.
func (l *loop) readEmpty(h handle, e *entry[fdObj]) bool {
	k := h.kind()
	return (k == kindStreamSocket || k == kindPipe) && e.v.flags&fdRingRecv == 0 && knownDrained(e)
}

// knownDrained reports that the last read emptied e and the poller has not
// reported it since, and that its pending read does not ask regardless
// (IOModeImmediate does).
func knownDrained(e *entry[fdObj]) bool {
	return e.v.sys.rdState == rdDrained && e.v.rd.mode != IOModeImmediate
}

// noteRead records what a read or receive of want bytes on h found.
func (l *loop) noteRead(h handle, e *entry[fdObj], want, n int, err error) {
	x := &e.v.sys
	x.readGen = l.waitGen
	x.rdState = rdUnknown
	switch {
	case err == unix.EAGAIN:
		x.rdState = rdDrained
	case err == nil && n > 0 && n < want && l.shortReadDrains && !x.readMore &&
		h.kind() == kindStreamSocket && e.v.flags&fdUnix == 0:
		// A TCP read returns all that is queued, stopping short only at
		// urgent data or at the end (see statePoller.reportsUrgent): a
		// short read emptied the socket, and data arriving later makes
		// the poller report it. (Unix-domain stream reads may stop at a
		// message boundary.)
		x.rdState = rdDrained
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
// stream, or an error to collect), without reading; it asks the kernel
// only when the loop does not know already.
func (l *loop) readable(_ handle, e *entry[fdObj]) (bool, error) {
	if e.v.flags&fdRingRecv != 0 {
		return l.recvs.recvReady(e.v.fd), nil
	}
	x := &e.v.sys
	switch x.rdState {
	case rdReadable:
		return true, nil
	case rdDrained:
		if e.v.rd.mode != IOModeImmediate {
			return false, nil // the poller will report data
		}
	}
	ok, err := pollReadable(e.v.fd)
	if err == nil {
		x.rdState = rdDrained
		if ok {
			x.rdState = rdReadable
		}
	}
	return ok, err
}

func (l *loop) writeMode(_ handle, m IOMode) IOMode { return m }

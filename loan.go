package eventcore

// Loaned reads (Sockets.ReadLoaned): the loop reads into a buffer of its
// own and lends it to the callback, so a connection that waits for data
// holds no buffer. On readiness drivers the read is made when the
// descriptor is readable (reported by the poller, or, on Windows, by a
// zero-byte overlapped receive), into the loop's buffer; on io_uring the
// kernel receives into the loop's buffer ring, and the loan is a piece of
// one of its buffers (fdio_ringrecv.go, poller_uring_recv.go). No caller
// buffer is ever with the kernel, so a cancel loses nothing.
//
// The loop keeps its buffers in a stack: a loan takes the top one and puts
// it back when its callback returns. Usually the stack holds one buffer, used
// by every loan in turn; a loan made while another is lent (a callback whose
// read completes at once, or a callback that runs ProcessEvents) takes a
// second one, allocated the first time. A buffer taken over by TakeLoan is
// not put back.

// DefaultLoanSize is the size of the buffers the loop lends to
// [Sockets.ReadLoaned] callbacks, unless [WithLoanSize] says otherwise.
const DefaultLoanSize = 64 << 10

// minLoanSize keeps a loaned read from being made absurdly small.
const minLoanSize = 512

// WithLoanSize sets the size of the buffers a driver lends to
// [Sockets.ReadLoaned] callbacks: the most bytes one loaned read
// delivers. Values below 512 mean 512.
func WithLoanSize(n int) Option { return func(c *config) { c.loanSize = max(n, minLoanSize) } }

// LoanCallback is called once per [Sockets.ReadLoaned] (unless cancelled)
// with the status and, on IOStatusOK, the bytes read: at least one, in a
// buffer the loop lends. data is valid only until the callback returns; the
// loop reuses the buffer then. A callback that keeps bytes copies them, or
// takes the whole buffer over with [Sockets.TakeLoan]. With any other
// status data is nil.
type LoanCallback func(s StreamSocket, status IOStatus, data []byte)

// loans is the loop's part of loaned reads.
type loans struct {
	size int      // of each buffer
	free [][]byte // buffers to lend, the next on top
	lent loan     // the innermost running LoanCallback's, zero if none
}

// loan is what a LoanCallback is lent: data, in the loop's buffer buf, or
// in the poller's received piece seg (fdio_ringrecv.go).
type loan struct {
	data []byte
	buf  []byte
	seg  uint32
}

// loanRead starts a loaned read on stream socket h.
func (l *loop) loanRead(h handle, cb LoanCallback) {
	e := l.fds.get(h, kindStreamSocket)
	if !l.usable(h, e, false, cb) {
		return
	}
	l.arm(&e.v.rd, ioOp{cb: cb, mode: IOModeOnce, loan: true})
	l.start(h, e, false)
}

// serviceLoan makes the pending loaned read op of h, and lends what it
// read to its callback.
func (l *loop) serviceLoan(h handle, e *entry[fdObj], op *ioOp) {
	if l.ringLoan(h, e, op) {
		return
	}
	var buf []byte
	if n := len(l.loans.free); n > 0 {
		buf = l.loans.free[n-1]
		l.loans.free = l.loans.free[:n-1]
	} else {
		buf = make([]byte, l.loans.size)
	}
	n, err := l.sysRead(h, e, buf)
	if err != nil || n == 0 {
		l.loans.free = append(l.loans.free, buf) // before any callback runs
		l.readStopped(h, e, op, n, err)
		return
	}
	l.lend(h, op, loan{data: buf[:n:n], buf: buf})
}

// lend ends the loaned read op of h, and lends ln to its callback.
func (l *loop) lend(h handle, op *ioOp, ln loan) {
	cb := l.disarm(op).cb.(LoanCallback)
	l.depth++
	defer l.endLoan(l.loans.lent) // also when cb panics
	l.loans.lent = ln
	cb(StreamSocket{h}, IOStatusOK, ln.data)
}

// endLoan ends the innermost loan, and gives its buffer back unless the
// callback took it; outer is the loan made before it.
func (l *loop) endLoan(outer loan) {
	l.depth--
	if ln := l.loans.lent; ln.data != nil {
		scribbleLoan(ln.data)
		if ln.seg != 0 {
			l.releaseRingLoan(ln.seg, false)
		} else {
			l.loans.free = append(l.loans.free, ln.buf)
		}
	}
	l.loans.lent = outer
}

// takeLoan hands the buffer of the running LoanCallback to the caller: the
// loop's buffer, or the poller's piece.
func (l *loop) takeLoan() []byte {
	ln := l.loans.lent
	l.loans.lent = loan{}
	if ln.seg != 0 {
		l.releaseRingLoan(ln.seg, true)
		return ln.data
	}
	return ln.buf
}

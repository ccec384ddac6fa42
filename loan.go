package eventcore

// Loaned reads (Sockets.ReadLoaned): the loop reads into a buffer of its
// own and lends it to the callback, so a connection that waits for data
// holds no buffer. On every driver the read is made when the descriptor is
// readable (reported by the poller, or, on Windows, by a zero-byte
// overlapped receive), into the loop's buffer; no caller buffer is ever
// with the kernel, so a cancel loses nothing.
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
	lent []byte   // the buffer of the innermost running LoanCallback, nil if none
}

// loanRead starts a loaned read on stream socket h.
func (l *loop) loanRead(h handle, cb LoanCallback) {
	e := l.fds.get(h, kindStreamSocket)
	if !l.usable(h, e, false, cb) {
		return
	}
	e.v.rd = ioOp{cb: cb, mode: IOModeOnce, active: true, loan: true}
	l.start(h, e, false)
}

// serviceLoan makes the pending loaned read op of h, and lends what it
// read to its callback.
func (l *loop) serviceLoan(h handle, e *entry[fdObj], op *ioOp) {
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
	cb := op.cb.(LoanCallback)
	*op = ioOp{}
	l.waiters--
	l.depth++
	defer l.endLoan(l.loans.lent, n) // also when cb panics
	l.loans.lent = buf
	cb(StreamSocket{h}, IOStatusOK, buf[:n:n])
}

// endLoan ends the loan of the innermost lent buffer, of which n bytes
// were read, and puts it back unless the callback took it; outer is the
// buffer lent before it.
func (l *loop) endLoan(outer []byte, n int) {
	l.depth--
	if buf := l.loans.lent; buf != nil {
		scribbleLoan(buf[:n])
		l.loans.free = append(l.loans.free, buf)
	}
	l.loans.lent = outer
}

// takeLoan hands the buffer of the running LoanCallback to the caller.
func (l *loop) takeLoan() []byte {
	buf := l.loans.lent
	l.loans.lent = nil
	return buf
}

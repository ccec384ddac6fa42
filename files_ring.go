//go:build unix

package eventcore

// File jobs the poller carries out itself. A completion poller (io_uring,
// see poller_uring_files.go) takes each step of a file job, a read or a
// write at its offset, a truncation, a close, and hands it to the kernel as
// one request, instead of the worker pool. When the request completes, the
// poller reports the file's handle; the loop takes the outcome (fileDone),
// and either starts the job's next step (the rest of an IOModeAll
// transfer) or finishes the job as a worker's result would be
// (fileJob.finish). A readiness poller offers no fileRing: every job then
// runs on the worker pool; so does a job whose step the poller cannot take
// (a full ring that fails to submit, an opcode this kernel lacks), from that
// step on.
//
// The request references the job's buffer until its completion has come,
// or a cancel has waited for it (fileStop): after that the kernel touches
// neither the buffer nor the descriptor, which the loop may then close. A
// request still in the ring's queue when cancelled is dropped unsent.
//
// A handover of the loop to another goroutine moves the poller to a new
// ring (see poller_uring.go); requests the old ring had taken fail there
// with ECANCELED, and their jobs complete with IOStatusError: what they
// did is unknown, and the old ring may still finish them in the
// background.

// fileRing is what a poller that does file I/O by itself offers.
type fileRing interface {
	// startFile starts a step of a file job of h: a read or write of buf
	// at off (-1: at the file's position, which an O_APPEND write moves to
	// the end), a truncation of fd to off, or the close of fd. It returns
	// the operation, or 0 if the poller could not take it. When the step
	// completes, wait reports h.
	startFile(kind fileJobKind, fd int, h handle, buf []byte, off int64) uint64
	// opOutcome tells whether the operation completed, and then its
	// outcome (a count or an error), and forgets it.
	opOutcome(op uint64) (n int, done bool, err error)
	// cancelFile gives the operation up, and forgets it. It returns once
	// the kernel is done with its buffer and descriptor, and reports
	// whether the kernel had taken the request (false: it never will).
	cancelFile(op uint64) (started bool)
}

// fileRun starts job j's next step: through the poller if it offers a
// fileRing and takes the step, else on the worker pool, which then runs
// the job to its end.
func (l *loop) fileRun(j *fileJob) {
	if l.fileOps != nil {
		off := j.off + int64(j.n)
		if j.append && j.kind == fileJobWrite {
			off = -1
		}
		if j.ring = l.fileOps.startFile(j.kind, j.fd, j.h, j.buf[j.n:], off); j.ring != 0 {
			return
		}
	}
	l.workers.submit(j)
}

// fileStop stops job j, in the kernel or on the worker pool, and reports
// whether any of its steps started. When it returns, neither touches the
// job's buffer or descriptor again.
func (l *loop) fileStop(j *fileJob) (started bool) {
	if j.ring != 0 {
		j.began = l.fileOps.cancelFile(j.ring) || j.began
		j.ring = 0
		j.busy = false // no worker has it: it may be reused at once
	}
	return j.gate.cancel() || j.began
}

// fileDone takes the outcomes of the steps of h's jobs that the poller
// reported done, and goes on with each job.
func (l *loop) fileDone(h handle) {
	for i := range 3 {
		e := l.files.get(h, kindFile) // again: a callback may have released it
		if e == nil {
			return
		}
		j := [3]*fileJob{e.v.rd.job, e.v.wr.job, e.v.closeJob}[i]
		if j == nil || j.ring == 0 {
			continue
		}
		n, done, err := l.fileOps.opOutcome(j.ring)
		if !done {
			continue
		}
		j.ring, j.began = 0, true
		if j.kind == fileJobClose {
			j.err = err // never again after EINTR: the descriptor is gone
		} else if j.step(n, err) {
			l.fileRun(j)
			continue
		}
		j.finish(l)
	}
}

//go:build unix

package eventcore

import (
	"os"

	"golang.org/x/sys/unix"
)

// Files on POSIX: a regular file is always "ready", so on readiness
// drivers its reads and writes (pread/pwrite), truncations, closes and
// asynchronous opens run on the worker pool and complete on the loop. A
// poller that does file I/O by itself (io_uring) carries a job's steps
// instead (files_ring.go); the job, its IOMode loop (step), its status and
// its finish are the same either way. A job uses the
// caller's buffer and the file's descriptor only inside its gate (see
// jobGate): once a cancel returns, the job touches neither again, so the
// loop may close the descriptor as soon as every job using it has finished
// or been cancelled. A release during a transfer thus never lets a worker
// touch a reused descriptor number, and Dispose closes every descriptor
// itself, whatever jobs are queued or running.

// osFile is an open file as the system names it.
type osFile = int

func closeOSFile(fd int) { unix.Close(fd) }

type fileObj struct {
	fd       int
	append   bool     // opened with O_APPEND: writes ignore the offset
	closing  bool     // Close was called, and its callback has not run
	closeJob *fileJob // the close, once submitted: the descriptor is its
	closeCb  FileCloseCallback
	rd, wr   fileOp
	// Jobs kept for reuse, so steady-state I/O allocates nothing.
	rdJob, wrJob *fileJob
}

// closed reports whether Close was called (the close may still wait for
// operations, or run).
func (f *fileObj) closed() bool { return f.closing || f.closeJob != nil }

type fileOp struct {
	job *fileJob // the pending operation's job; nil when none
	cb  FileIOCallback
}

type fileJobKind uint8

const (
	fileJobRead fileJobKind = iota
	fileJobWrite
	fileJobTruncate
	fileJobClose
)

type fileJob struct {
	gate   jobGate
	kind   fileJobKind
	busy   bool   // submitted and not yet finished (loop-owned)
	ring   uint64 // the poller's operation carrying the step in flight, if any
	began  bool   // a step went to the kernel through the poller
	fd     int
	append bool // a write goes to the end (write, not pwrite)
	h      handle
	buf    []byte
	off    int64
	mode   IOMode
	n      int
	err    error
}

func openFlags(mode FileOpenMode) int {
	switch mode {
	case FileReadWrite:
		return unix.O_RDWR
	case FileCreate:
		return unix.O_RDWR | unix.O_CREAT
	case FileCreateTrunc:
		return unix.O_RDWR | unix.O_CREAT | unix.O_TRUNC
	case FileCreateNew:
		return unix.O_RDWR | unix.O_CREAT | unix.O_EXCL
	case FileAppend:
		return unix.O_RDWR | unix.O_CREAT | unix.O_APPEND
	}
	return unix.O_RDONLY
}

// openFile opens path, refusing directories.
func openFile(path string, mode FileOpenMode) (int, error) {
	flags := openFlags(mode)
	for {
		fd, err := unix.Open(path, flags|unix.O_CLOEXEC, 0o666)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return -1, &os.PathError{Op: "open", Path: path, Err: err}
		}
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR {
			unix.Close(fd)
			return -1, &os.PathError{Op: "open", Path: path, Err: unix.EISDIR}
		}
		return fd, nil
	}
}

func openStatusOf(err error) OpenStatus {
	if pe, ok := err.(*os.PathError); ok {
		err = pe.Err
	}
	switch err {
	case nil:
		return OpenStatusOK
	case unix.ENOENT, unix.ENOTDIR:
		return OpenStatusNotFound
	case unix.EACCES, unix.EPERM, unix.EROFS:
		return OpenStatusNotAccessible
	case unix.EISDIR:
		return OpenStatusIsDirectory
	case unix.EEXIST:
		return OpenStatusAlreadyExists
	}
	return OpenStatusError
}

func (l *loop) fileOpen(path string, mode FileOpenMode) (handle, error) {
	if l.disposed {
		return 0, ErrDisposed
	}
	fd, err := openFile(path, mode)
	if err != nil {
		return 0, err
	}
	return l.newFile(fd, mode == FileAppend)
}

func (l *loop) fileAdopt(fd uintptr) (handle, error) {
	ifd, err := l.adoptable(fd)
	if err != nil {
		return 0, err
	}
	fl, err := unix.FcntlInt(fd, unix.F_GETFL, 0)
	if err != nil {
		return 0, err
	}
	unix.CloseOnExec(ifd)
	return l.newFile(ifd, fl&unix.O_APPEND != 0)
}

func (l *loop) newFile(fd int, appendMode bool) (handle, error) {
	h, e := l.files.alloc(kindFile)
	if e == nil {
		unix.Close(fd)
		return 0, ErrTooManyHandles
	}
	e.v = fileObj{fd: fd, append: appendMode}
	l.setByFD(fd, h)
	return h, nil
}

func (l *loop) fileSize(h handle) (int64, error) {
	e := l.files.get(h, kindFile)
	if e == nil {
		return 0, ErrInvalidHandle
	}
	if e.v.closed() {
		return 0, ErrClosed
	}
	var st unix.Stat_t
	if err := unix.Fstat(e.v.fd, &st); err != nil {
		e.setErr(err)
		return 0, err
	}
	return st.Size, nil
}

// fileStart checks that an operation may start, reports why not through
// cb, and returns the op slot and a job for it.
func (l *loop) fileStart(h handle, write bool, cb FileIOCallback) (*entry[fileObj], *fileOp, *fileJob) {
	e := l.files.get(h, kindFile)
	if e == nil {
		l.callIO(cb, h, IOStatusInvalidHandle, 0, Addr{})
		return nil, nil, nil
	}
	op, spare := &e.v.rd, &e.v.rdJob
	if write {
		op, spare = &e.v.wr, &e.v.wrJob
	}
	switch {
	case op.job != nil:
		e.setErr(ErrBusy)
		l.callIO(cb, h, IOStatusBusy, 0, Addr{})
		return nil, nil, nil
	case e.v.closed():
		e.setErr(ErrClosed)
		l.callIO(cb, h, IOStatusNotAllowed, 0, Addr{})
		return nil, nil, nil
	}
	j := *spare
	if j == nil || j.busy { // none yet, or a cancelled one still runs
		j = &fileJob{}
		*spare = j
	}
	return e, op, j
}

func (l *loop) fileIO(h handle, write bool, off int64, buf []byte, mode IOMode, cb FileIOCallback) {
	e, op, j := l.fileStart(h, write, cb)
	if e == nil {
		return
	}
	if off < 0 {
		e.setErr(unix.EINVAL)
		l.callIO(cb, h, IOStatusError, 0, Addr{})
		return
	}
	kind := fileJobRead
	if write {
		kind = fileJobWrite
	}
	*j = fileJob{kind: kind, h: h, buf: buf, off: off, mode: mode}
	l.fileSubmit(e, op, j, cb)
}

func (l *loop) fileTruncate(h handle, size int64, cb FileIOCallback) {
	e, op, j := l.fileStart(h, true, cb)
	if e == nil {
		return
	}
	*j = fileJob{kind: fileJobTruncate, h: h, off: size}
	l.fileSubmit(e, op, j, cb)
}

func (l *loop) fileSubmit(e *entry[fileObj], op *fileOp, j *fileJob, cb FileIOCallback) {
	j.fd, j.append, j.busy = e.v.fd, e.v.append, true
	*op = fileOp{job: j, cb: cb}
	l.waiters++
	l.fileRun(j)
}

// fileCancel drops the pending read or write: a job not yet started never
// runs, one running stops after its system call in flight, which the
// cancel waits for.
func (l *loop) fileCancel(h handle, write bool) {
	e := l.files.get(h, kindFile)
	if e == nil {
		return
	}
	op := &e.v.rd
	if write {
		op = &e.v.wr
	}
	if op.job != nil {
		l.fileStop(op.job)
		*op = fileOp{}
		l.waiters--
		l.fileMaybeClose(h, e)
	}
}

// fileMaybeClose starts a requested close once no operation is pending.
func (l *loop) fileMaybeClose(h handle, e *entry[fileObj]) {
	if !e.v.closing || e.v.closeJob != nil || e.v.rd.job != nil || e.v.wr.job != nil {
		return
	}
	e.v.closeJob = &fileJob{kind: fileJobClose, h: h, fd: e.v.fd, busy: true}
	l.clearByFD(e.v.fd, h)
	l.fileRun(e.v.closeJob)
}

// fileFree drops the entry; its pending operations are cancelled, and the
// descriptor is closed now unless the close job closed it.
func (l *loop) fileFree(h handle, e *entry[fileObj]) {
	for _, op := range [2]*fileOp{&e.v.rd, &e.v.wr} {
		if op.job != nil {
			l.fileStop(op.job)
			l.waiters--
		}
	}
	if e.v.closing {
		l.waiters-- // the close callback will not run
	}
	switch {
	case e.v.closeJob == nil:
		l.clearByFD(e.v.fd, h)
		unix.Close(e.v.fd)
	case !l.fileStop(e.v.closeJob):
		unix.Close(e.v.fd) // the close job had not started
	}
	l.files.release(h, e)
}

func (j *fileJob) run() {
	switch j.kind {
	case fileJobClose:
		if j.gate.enter() {
			j.err = unix.Close(j.fd)
			j.gate.leave()
		}
	case fileJobTruncate:
		if j.gate.enter() {
			j.err = retryEINTR(func() error { return unix.Ftruncate(j.fd, j.off) })
			j.gate.leave()
		}
	default:
		j.transfer()
	}
}

func retryEINTR(f func() error) error {
	for {
		if err := f(); err != unix.EINTR {
			return err
		}
	}
}

// transfer reads or writes the job's buffer, one system call per pass
// through the gate, so that a cancel stops it between two.
func (j *fileJob) transfer() {
	for j.n < len(j.buf) {
		if !j.gate.enter() {
			return
		}
		var n int
		var err error
		p, off := capRW(j.buf[j.n:]), j.off+int64(j.n)
		switch {
		case j.kind == fileJobRead:
			n, err = unix.Pread(j.fd, p, off)
		case j.append:
			n, err = unix.Write(j.fd, p)
		default:
			n, err = unix.Pwrite(j.fd, p, off)
		}
		j.gate.leave()
		if !j.step(n, err) {
			return
		}
	}
}

// step takes the outcome of one system call of the job (n bytes moved, or
// err) and reports whether another is due: the rest of an IOModeAll
// transfer, or the same call again after EINTR.
func (j *fileJob) step(n int, err error) bool {
	switch {
	case err == unix.EINTR:
		return true
	case err != nil:
		j.err = err
		return false
	case n == 0: // end of file (a write of 0 bytes does not happen for len(p) > 0)
		return false
	}
	j.n += n
	return j.mode == IOModeAll && j.n < len(j.buf)
}

func (j *fileJob) status() IOStatus {
	switch j.err {
	case nil:
		if j.kind == fileJobRead && j.n < len(j.buf) && (j.n == 0 || j.mode == IOModeAll) {
			return IOStatusReadPastEOF
		}
		return IOStatusOK
	case unix.ENOSPC, unix.EDQUOT, unix.EFBIG:
		return IOStatusNoSpaceLeft
	case unix.EBADF, unix.EACCES, unix.EPERM, unix.EROFS:
		return IOStatusNotAllowed
	}
	return IOStatusError
}

func (j *fileJob) finish(l *loop) {
	j.busy = false
	e := l.files.get(j.h, kindFile)
	if e == nil {
		return // released meanwhile
	}
	if j.kind == fileJobClose {
		cb := e.v.closeCb
		e.v.closeCb = nil
		e.v.closing = false // nothing left to wait for
		l.waiters--
		st := CloseStatusOK
		if j.err != nil {
			e.setErr(j.err)
			st = CloseStatusIOError
		}
		if cb != nil {
			l.depth++
			cb(File{j.h}, st)
			l.depth--
		}
		return
	}
	op := &e.v.rd
	if j.kind != fileJobRead {
		op = &e.v.wr
	}
	if op.job != j {
		return // cancelled
	}
	cb := op.cb
	*op = fileOp{}
	l.waiters--
	st := j.status()
	if j.err != nil {
		e.setErr(j.err)
	}
	// Before the callback: a Close waiting for this operation goes on
	// whatever the callback does, a panic included (operations it starts
	// are refused once the file is closing).
	l.fileMaybeClose(j.h, e)
	l.callIO(cb, j.h, st, j.n, Addr{})
}

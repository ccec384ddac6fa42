//go:build unix

package eventcore

import (
	"os"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// Files on readiness drivers: a regular file is always "ready", so its
// reads and writes (pread/pwrite), opens, truncations and closes run on the
// worker pool and complete on the loop. The descriptor is reference-counted
// by its handle and by each job in flight, and the last of them closes it:
// a release during a transfer can never make a worker touch a reused
// descriptor number, and a descriptor still in use when the driver is
// disposed is closed by its last job.

type fileObj struct {
	desc      *fileDesc
	closing   bool // Close was called
	closeSent bool // the close job holds the handle's reference to desc
	closeCb   FileCloseCallback
	rd, wr    fileOp
	// Jobs kept for reuse, so steady-state I/O allocates nothing.
	rdJob, wrJob *fileJob
}

// closed reports whether Close was called (the close may still wait for
// operations, or run).
func (f *fileObj) closed() bool { return f.closing || f.closeSent }

type fileOp struct {
	job *fileJob // the pending operation's job; nil when none
	cb  FileIOCallback
}

type fileDesc struct {
	fd     int
	append bool         // opened with O_APPEND: writes ignore the offset
	refs   atomic.Int32 // the handle's, and one per job in flight
}

func (d *fileDesc) release() error {
	if d.refs.Add(-1) == 0 {
		return unix.Close(d.fd)
	}
	return nil
}

type fileJobKind uint8

const (
	fileJobRead fileJobKind = iota
	fileJobWrite
	fileJobTruncate
	fileJobClose
	fileJobOpen
)

type fileJob struct {
	kind fileJobKind
	busy bool // submitted and not yet finished (loop-owned)
	desc *fileDesc
	h    handle
	buf  []byte
	off  int64
	mode IOMode
	n    int
	err  error
	// opening
	path   string
	flags  int
	openCb FileOpenCallback
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
func openFile(path string, flags int) (int, error) {
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
	fd, err := openFile(path, openFlags(mode))
	if err != nil {
		return 0, err
	}
	return l.newFile(fd, mode == FileAppend)
}

func (l *loop) fileOpenAsync(path string, mode FileOpenMode, cb FileOpenCallback) {
	if l.disposed {
		return
	}
	l.waiters++
	l.workers.submit(&fileJob{kind: fileJobOpen, path: path, flags: openFlags(mode), openCb: cb})
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
	e.v.desc = &fileDesc{fd: fd, append: appendMode}
	e.v.desc.refs.Store(1)
	l.setByFD(fd, h)
	return h, nil
}

func (l *loop) fileSize(h handle) (int64, error) {
	e := l.files.get(h, kindFile)
	if e == nil {
		return 0, ErrInvalidHandle
	}
	if e.v.closing || e.v.closeSent {
		return 0, ErrClosed
	}
	var st unix.Stat_t
	if err := unix.Fstat(e.v.desc.fd, &st); err != nil { // safe: the handle's reference keeps it open
		e.err = err
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
		e.err = ErrBusy
		l.callIO(cb, h, IOStatusBusy, 0, Addr{})
		return nil, nil, nil
	case e.v.closing || e.v.closeSent:
		e.err = ErrClosed
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
		e.err = unix.EINVAL
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
	j.desc, j.busy = e.v.desc, true
	e.v.desc.refs.Add(1)
	*op = fileOp{job: j, cb: cb}
	l.waiters++
	l.workers.submit(j)
}

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
		*op = fileOp{}
		l.waiters--
		l.fileMaybeClose(h, e)
	}
}

// fileMaybeClose starts a requested close once no operation is pending
// and no job still uses the descriptor.
func (l *loop) fileMaybeClose(h handle, e *entry[fileObj]) {
	d := e.v.desc
	if !e.v.closing || e.v.closeSent || e.v.rd.job != nil || e.v.wr.job != nil || d.refs.Load() > 1 {
		return
	}
	e.v.closeSent = true
	l.clearByFD(d.fd, h)
	l.workers.submit(&fileJob{kind: fileJobClose, h: h, desc: d, busy: true})
}

// fileFree drops the entry; its pending operations are forgotten, and the
// descriptor is closed now or by the last job still using it.
func (l *loop) fileFree(h handle, e *entry[fileObj]) {
	for _, op := range []*fileOp{&e.v.rd, &e.v.wr} {
		if op.job != nil {
			l.waiters--
		}
	}
	if e.v.closing {
		l.waiters-- // the close callback will not run
	}
	if !e.v.closeSent {
		l.clearByFD(e.v.desc.fd, h)
		e.v.desc.release()
	}
	l.files.release(h, e)
}

func (j *fileJob) run() {
	switch j.kind {
	case fileJobOpen:
		j.n, j.err = openFile(j.path, j.flags)
	case fileJobClose:
		j.err = j.desc.release()
	case fileJobTruncate:
		j.err = retryEINTR(func() error { return unix.Ftruncate(j.desc.fd, j.off) })
		j.desc.release()
	default:
		j.transfer()
		j.desc.release()
	}
}

func retryEINTR(f func() error) error {
	for {
		if err := f(); err != unix.EINTR {
			return err
		}
	}
}

func (j *fileJob) transfer() {
	fd := j.desc.fd
	for j.n < len(j.buf) {
		var n int
		var err error
		p, off := j.buf[j.n:], j.off+int64(j.n)
		switch {
		case j.kind == fileJobRead:
			n, err = unix.Pread(fd, p, off)
		case j.desc.append:
			n, err = unix.Write(fd, p)
		default:
			n, err = unix.Pwrite(fd, p, off)
		}
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			j.err = err
			return
		}
		if n == 0 { // end of file (a write of 0 bytes does not happen for len(p) > 0)
			return
		}
		j.n += n
		if j.mode != IOModeAll {
			return
		}
	}
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
	if j.kind == fileJobOpen {
		l.fileOpened(j)
		return
	}
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
			e.err = j.err
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
		l.fileMaybeClose(j.h, e) // cancelled
		return
	}
	cb := op.cb
	*op = fileOp{}
	l.waiters--
	st := j.status()
	if j.err != nil {
		e.err = j.err
	}
	// Before the callback: a Close waiting for this operation goes on
	// whatever the callback does, a panic included (operations it starts
	// are refused once the file is closing).
	l.fileMaybeClose(j.h, e)
	l.callIO(cb, j.h, st, j.n, Addr{})
}

func (l *loop) fileOpened(j *fileJob) {
	l.waiters--
	if l.disposed {
		if j.err == nil {
			unix.Close(j.n)
		}
		return
	}
	var h handle
	err := j.err
	if err == nil {
		h, err = l.newFile(j.n, j.flags&unix.O_APPEND != 0)
	}
	st := openStatusOf(err)
	if j.openCb != nil {
		l.depth++
		j.openCb(File{h}, st)
		l.depth--
	} else if h != 0 {
		l.fileRelease(h) // nobody to hand it to
	}
}

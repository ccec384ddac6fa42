package eventcore

import (
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/windows"
)

// Files on the winapi driver: handles opened with FILE_FLAG_OVERLAPPED,
// read and written with ReadFileEx/WriteFileEx, whose completion routine is
// the driver's one (loop_windows.go): no worker thread is involved. An
// IOModeAll transfer the system ends early (it rarely does for a file) is
// continued from where it stopped. Truncation (SetFileInformationByHandle)
// and closing are immediate system calls whose callbacks still run from
// ProcessEvents, as on every driver; only opening asynchronously uses the
// worker pool, since CreateFile has no overlapped form.

// osFile is an open file as the system names it.
type osFile = windows.Handle

func closeOSFile(fh windows.Handle) { windows.CloseHandle(fh) }

type fileObj struct {
	fh      windows.Handle
	orig    windows.Handle // an adopted handle, kept (and registered) until freed
	append  bool           // writes go to the end, whatever their offset
	closing bool           // Close was called; the handle closes once nothing is pending
	closeCb FileCloseCallback
	rd, wr  fileOp
}

// closed reports whether Close was called.
func (f *fileObj) closed() bool { return f.closing }

type fileOp struct {
	active bool
	cb     FileIOCallback
	buf    []byte
	off    int64
	done   int
	mode   IOMode
	ov     *winOp // the ReadFileEx/WriteFileEx in flight
	err    error  // a result to report from the loop (a truncation, or a refused call)
	ready  bool   // the result is known: report it from the loop
}

const (
	errHandleEOF    = windows.ERROR_HANDLE_EOF
	fileEndOfFileIn = 6 // FileEndOfFileInfo
)

func openAccess(mode FileOpenMode) (access, disposition uint32) {
	rw := uint32(windows.GENERIC_READ | windows.GENERIC_WRITE)
	switch mode {
	case FileReadWrite:
		return rw, windows.OPEN_EXISTING
	case FileCreate, FileAppend:
		return rw, windows.OPEN_ALWAYS
	case FileCreateTrunc:
		return rw, windows.CREATE_ALWAYS
	case FileCreateNew:
		return rw, windows.CREATE_NEW
	}
	return windows.GENERIC_READ, windows.OPEN_EXISTING
}

// openFile opens path for overlapped I/O, refusing directories.
func openFile(path string, mode FileOpenMode) (windows.Handle, error) {
	p, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return windows.InvalidHandle, &os.PathError{Op: "open", Path: path, Err: err}
	}
	access, disp := openAccess(mode)
	share := uint32(windows.FILE_SHARE_READ | windows.FILE_SHARE_WRITE | windows.FILE_SHARE_DELETE)
	fh, err := windows.CreateFile(p, access, share, nil, disp, windows.FILE_ATTRIBUTE_NORMAL|windows.FILE_FLAG_OVERLAPPED, 0)
	if err != nil {
		if st, serr := os.Stat(path); serr == nil && st.IsDir() {
			err = syscall.EISDIR // CreateFile refuses a directory as "access denied"
		}
		return windows.InvalidHandle, &os.PathError{Op: "open", Path: path, Err: err}
	}
	return fh, nil
}

func openStatusOf(err error) OpenStatus {
	if pe, ok := err.(*os.PathError); ok {
		err = pe.Err
	}
	switch err {
	case nil:
		return OpenStatusOK
	case windows.ERROR_FILE_NOT_FOUND, windows.ERROR_PATH_NOT_FOUND, windows.ERROR_INVALID_NAME:
		return OpenStatusNotFound
	case windows.ERROR_ACCESS_DENIED, windows.ERROR_SHARING_VIOLATION, windows.ERROR_WRITE_PROTECT:
		return OpenStatusNotAccessible
	case syscall.EISDIR:
		return OpenStatusIsDirectory
	case windows.ERROR_FILE_EXISTS, windows.ERROR_ALREADY_EXISTS:
		return OpenStatusAlreadyExists
	}
	return OpenStatusError
}

func (l *loop) fileOpen(path string, mode FileOpenMode) (handle, error) {
	if l.disposed {
		return 0, ErrDisposed
	}
	fh, err := openFile(path, mode)
	if err != nil {
		return 0, err
	}
	return l.newFile(fh, mode == FileAppend)
}

// fileAdopt takes over a file handle. ReadFileEx needs one opened for
// overlapped I/O, which the caller's may not be: the driver reopens the
// file with the same access (ReOpenFile) and closes the handle it was given.
func (l *loop) fileAdopt(fd uintptr) (handle, error) {
	if l.disposed {
		return 0, ErrDisposed
	}
	old := windows.Handle(fd)
	if _, ok := l.bySock[old]; ok {
		return 0, ErrAlreadyRegistered
	}
	access, err := fileAccess(old)
	if err != nil {
		return 0, err
	}
	share := uint32(windows.FILE_SHARE_READ | windows.FILE_SHARE_WRITE | windows.FILE_SHARE_DELETE)
	fh, err := reOpenFile(old, access, share, windows.FILE_FLAG_OVERLAPPED)
	if err != nil {
		return 0, err
	}
	appendOnly := access&windows.FILE_APPEND_DATA != 0 && access&windows.FILE_WRITE_DATA == 0
	h, err := l.newFile(fh, appendOnly)
	if err != nil {
		windows.CloseHandle(old)
		return 0, err
	}
	// The caller's handle stays open, unused, until the file is closed: so
	// adopting it twice is recognized, and its value is not reused meanwhile.
	l.files.get(h, kindFile).v.orig = old
	l.bySock[old] = h
	return h, nil
}

// closeHandles closes the file's handles and forgets them.
func (l *loop) closeHandles(f *fileObj) error {
	if f.orig != 0 {
		delete(l.bySock, f.orig)
		windows.CloseHandle(f.orig)
		f.orig = 0
	}
	delete(l.bySock, f.fh)
	err := windows.CloseHandle(f.fh)
	f.fh = windows.InvalidHandle
	return err
}

func (l *loop) newFile(fh windows.Handle, appendMode bool) (handle, error) {
	h, e := l.files.alloc(kindFile)
	if e == nil {
		windows.CloseHandle(fh)
		return 0, ErrTooManyHandles
	}
	e.v = fileObj{fh: fh, append: appendMode}
	l.bySock[fh] = h
	return h, nil
}

func (l *loop) fileSize(h handle) (int64, error) {
	e := l.files.get(h, kindFile)
	if e == nil {
		return 0, ErrInvalidHandle
	}
	if e.v.closing {
		return 0, ErrClosed
	}
	var size int64
	r, _, err := procGetFileSizeEx.Call(uintptr(e.v.fh), uintptr(unsafe.Pointer(&size)))
	if r == 0 {
		e.setErr(err)
		return 0, err
	}
	return size, nil
}

// fileStart checks that an operation may start and reports why not
// through cb.
func (l *loop) fileStart(h handle, write bool, cb FileIOCallback) (*entry[fileObj], *fileOp) {
	e := l.files.get(h, kindFile)
	if e == nil {
		l.callIO(cb, h, IOStatusInvalidHandle, 0, Addr{})
		return nil, nil
	}
	op := &e.v.rd
	if write {
		op = &e.v.wr
	}
	switch {
	case op.active:
		e.setErr(ErrBusy)
		l.callIO(cb, h, IOStatusBusy, 0, Addr{})
		return nil, nil
	case e.v.closing:
		e.setErr(ErrClosed)
		l.callIO(cb, h, IOStatusNotAllowed, 0, Addr{})
		return nil, nil
	}
	return e, op
}

func (l *loop) fileIO(h handle, write bool, off int64, buf []byte, mode IOMode, cb FileIOCallback) {
	e, op := l.fileStart(h, write, cb)
	if e == nil {
		return
	}
	if off < 0 {
		e.setErr(syscall.EINVAL)
		l.callIO(cb, h, IOStatusError, 0, Addr{})
		return
	}
	*op = fileOp{active: true, cb: cb, buf: buf, off: off, mode: mode}
	l.waiters++
	if len(buf) == 0 {
		op.ready = true
		l.deferService(h)
		return
	}
	l.fileTransfer(h, e, op, write)
}

// fileTransfer starts the next ReadFileEx/WriteFileEx of op.
func (l *loop) fileTransfer(h handle, e *entry[fileObj], op *fileOp, write bool) {
	w := l.newOp(h, opFileRead)
	off := op.off + int64(op.done)
	if write {
		w.kind = opFileWrite
		if e.v.append {
			off = -1 // 0xFFFFFFFF:0xFFFFFFFF: the end of the file
		}
	}
	w.ov.Offset, w.ov.OffsetHigh = uint32(off), uint32(off>>32)
	rest := op.buf[op.done:]
	w.keep = rest
	n := uintptr(min(len(rest), maxRW))
	proc := procReadFileEx
	if write {
		proc = procWriteFileEx
	}
	r, _, err := syscall.SyscallN(proc.Addr(), uintptr(e.v.fh), uintptr(unsafe.Pointer(unsafe.SliceData(rest))), n,
		uintptr(unsafe.Pointer(&w.ov)), completionRoutine)
	if r == 0 {
		l.putOp(w)
		if err == errHandleEOF {
			err = 0
		}
		if err != 0 {
			op.err = err
		}
		op.ready = true
		l.deferService(h)
		return
	}
	l.started(w)
	op.ov = w
}

// fileDone handles a completed ReadFileEx/WriteFileEx.
func (l *loop) fileDone(w *winOp) bool {
	e := l.files.get(w.h, kindFile)
	h, n, status := w.h, int(w.n), syscall.Errno(w.err)
	write := w.kind == opFileWrite
	l.putOp(w)
	if e == nil {
		return false
	}
	op := &e.v.rd
	if write {
		op = &e.v.wr
	}
	op.ov = nil
	op.done += n
	switch {
	case status != 0 && status != errHandleEOF:
		op.err = status
	case status == 0 && n > 0 && op.mode == IOModeAll && op.done < len(op.buf):
		l.fileTransfer(h, e, op, write)
		return true
	}
	l.fileFinish(h, e, op)
	return true
}

// fileFinish reports the result of op, and closes the file if a Close
// waited for it.
func (l *loop) fileFinish(h handle, e *entry[fileObj], op *fileOp) {
	write := op == &e.v.wr
	cb, n, err := op.cb, op.done, op.err
	st := IOStatusOK
	switch err {
	case nil:
		if !write && n < len(op.buf) && (n == 0 || op.mode == IOModeAll) {
			st = IOStatusReadPastEOF
		}
	case windows.ERROR_DISK_FULL, windows.ERROR_HANDLE_DISK_FULL:
		st = IOStatusNoSpaceLeft
	case windows.ERROR_ACCESS_DENIED, windows.ERROR_WRITE_PROTECT, windows.ERROR_INVALID_HANDLE:
		st = IOStatusNotAllowed
	default:
		st = IOStatusError
	}
	if err != nil {
		e.setErr(err)
	}
	*op = fileOp{}
	l.waiters--
	l.callIO(cb, h, st, n, Addr{})
	if e = l.files.get(h, kindFile); e != nil {
		l.fileMaybeClose(h, e)
	}
}

// fileService reports the results known at once (see fileOp.ready) and
// runs a requested close; it runs from the loop.
func (l *loop) fileService(h handle) {
	e := l.files.get(h, kindFile)
	if e == nil {
		return
	}
	for _, op := range [2]*fileOp{&e.v.rd, &e.v.wr} {
		if op.active && op.ready {
			l.fileFinish(h, e, op)
			if e = l.files.get(h, kindFile); e == nil {
				return
			}
		}
	}
	if e.v.closing && !e.v.rd.active && !e.v.wr.active {
		cb := e.v.closeCb
		e.v.closing, e.v.closeCb = false, nil
		l.waiters--
		st := CloseStatusOK
		if err := l.closeHandles(&e.v); err != nil {
			e.setErr(err)
			st = CloseStatusIOError
		}
		e.v.closing = true // closed: no more operations
		if cb != nil {
			l.depth++
			cb(File{h}, st)
			l.depth--
		}
	}
}

func (l *loop) fileTruncate(h handle, size int64, cb FileIOCallback) {
	e, op := l.fileStart(h, true, cb)
	if e == nil {
		return
	}
	*op = fileOp{active: true, cb: cb, ready: true}
	l.waiters++
	if size < 0 {
		op.err = syscall.EINVAL
	} else if err := windows.SetFileInformationByHandle(e.v.fh, fileEndOfFileIn, (*byte)(unsafe.Pointer(&size)), 8); err != nil {
		op.err = err
	}
	l.deferService(h)
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
	if !op.active {
		return
	}
	l.orphan(e.v.fh, &op.ov, true) // waits until the kernel is done with the buffer
	*op = fileOp{}
	l.waiters--
	l.fileMaybeClose(h, e)
}

// fileMaybeClose lets the loop close the file once a requested close has
// no operation left to wait for.
func (l *loop) fileMaybeClose(h handle, e *entry[fileObj]) {
	if e.v.closing && e.v.fh != windows.InvalidHandle && !e.v.rd.active && !e.v.wr.active {
		l.deferService(h)
	}
}

// fileFree drops the entry; its pending operations are cancelled like
// fileCancel's (their completions only recycle their winOps).
func (l *loop) fileFree(h handle, e *entry[fileObj]) {
	for _, op := range [2]*fileOp{&e.v.rd, &e.v.wr} {
		if op.active {
			l.waiters--
		}
		l.orphan(e.v.fh, &op.ov, true)
	}
	if e.v.closing && e.v.fh != windows.InvalidHandle {
		l.waiters-- // the close callback will not run
	}
	if e.v.fh != windows.InvalidHandle {
		l.closeHandles(&e.v)
	}
	l.files.release(h, e)
}

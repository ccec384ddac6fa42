package eventcore

// FileIOCallback is called once per Read, Write or Truncate (unless
// cancelled) with the status and the number of bytes transferred.
type FileIOCallback func(f File, status IOStatus, n int)

// FileOpenCallback is called once per OpenAsync with the new file (the zero
// File unless status is OpenStatusOK) and the outcome.
type FileOpenCallback func(f File, status OpenStatus)

// FileCloseCallback is called once per Close.
type FileCloseCallback func(f File, status CloseStatus)

// FileOpenMode says how a file is opened. Created files get mode 0666,
// less the process's umask.
type FileOpenMode uint8

const (
	// FileRead opens an existing file for reading.
	FileRead FileOpenMode = iota
	// FileReadWrite opens an existing file for reading and writing.
	FileReadWrite
	// FileCreate opens a file for reading and writing, creating it if it
	// does not exist.
	FileCreate
	// FileCreateTrunc opens a file for reading and writing, creating it if
	// it does not exist and emptying it if it does.
	FileCreateTrunc
	// FileCreateNew creates a file for reading and writing; it fails with
	// OpenStatusAlreadyExists if the file exists.
	FileCreateNew
	// FileAppend opens a file for reading and appending, creating it if it
	// does not exist: every write goes to the end of the file, whatever
	// offset it names.
	FileAppend
)

// Files is file I/O on the loop: [Driver.Files] returns it. Its methods
// belong to the loop's owner goroutine.
//
// Reads and writes name their offset, so one read and one write may be
// pending at a time on the same file. On readiness drivers they run on the
// driver's worker pool (see [WithWorkers]); on iouring they are requests of
// the ring (reads, writes, closes, and truncations where the kernel has
// them, Linux 6.9; the worker pool truncates elsewhere), an IOModeAll
// transfer one request per system call's worth. Either way they complete
// from ProcessEvents; callbacks never run before the call that started the
// operation returns, except for a misuse reported at once. For files,
// IOModeImmediate behaves as IOModeOnce: a file is always "ready".
//
// On iouring, a loop taken over by another goroutine moves to a new ring
// (see the package documentation): a read or write the kernel had taken
// from the old one completes with IOStatusError, LastError ECANCELED,
// having transferred an unknown part of its buffer; the old ring may still
// finish it in the background, so a caller that got that status should
// not reuse the buffer at once.
type Files struct{ l *loop }

// Open opens path synchronously. It fails with the system's error
// (errors.Is(err, fs.ErrNotExist) works), and with syscall.EISDIR for a
// directory.
func (f Files) Open(path string, mode FileOpenMode) (File, error) {
	h, err := f.l.fileOpen(path, mode)
	return File{h}, err
}

// OpenAsync opens path on the worker pool and calls cb with the outcome,
// from ProcessEvents. A pending open counts as a waiter; it cannot be
// cancelled, but Dispose closes what it opened (an open still running when
// Dispose returns closes its file as soon as it is done).
func (f Files) OpenAsync(path string, mode FileOpenMode, cb FileOpenCallback) {
	f.l.fileOpenAsync(path, mode, cb)
}

// Adopt takes over fd, an open file; the driver closes it when Close is
// called or the last reference is released. It fails with
// ErrAlreadyRegistered if the driver already owns fd.
func (f Files) Adopt(fd uintptr) (File, error) {
	h, err := f.l.fileAdopt(fd)
	return File{h}, err
}

// Close closes the file once its pending reads and writes have completed
// (they complete normally), and calls cb with the outcome, from
// ProcessEvents. Operations started after Close, including from the
// callbacks of those it waits for, get IOStatusNotAllowed at once. The
// handle stays valid until its last reference is released; releasing it
// before cb ran cancels cb.
func (f Files) Close(file File, cb FileCloseCallback) { f.l.fileClose(file.h, cb) }

// GetSize returns the file's size.
func (f Files) GetSize(file File) (int64, error) { return f.l.fileSize(file.h) }

// Truncate sets the file's size to size, cutting or extending it with
// zeros, and calls cb. It counts as the file's pending write: it cannot
// overlap a Write, and CancelWrite cancels it.
func (f Files) Truncate(file File, size int64, cb FileIOCallback) {
	f.l.fileTruncate(file.h, size, cb)
}

// Read reads into buf from offset and calls cb (see [IOMode]). A read that
// reaches the end of the file before buf is full (IOModeAll), or that
// starts at or past the end, completes with IOStatusReadPastEOF and the
// bytes read. Only one read may be pending: a second gets IOStatusBusy.
func (f Files) Read(file File, offset int64, buf []byte, mode IOMode, cb FileIOCallback) {
	f.l.fileIO(file.h, false, offset, buf, mode, cb)
}

// Write writes buf at offset and calls cb (see [IOMode]); the driver keeps
// buf until then. A full disk gives IOStatusNoSpaceLeft, a file not opened
// for writing IOStatusNotAllowed. Only one write may be pending.
func (f Files) Write(file File, offset int64, buf []byte, mode IOMode, cb FileIOCallback) {
	f.l.fileIO(file.h, true, offset, buf, mode, cb)
}

// CancelRead cancels the pending read, if any: its callback will not run,
// and once CancelRead returns the driver never touches the read's buffer
// again, so the caller may reuse it at once. A read not yet started is
// dropped; one in progress stops after the system call in flight, which
// CancelRead waits for (a read of a regular file, so a short wait; the
// winapi and iouring drivers wait for the kernel to acknowledge the
// cancellation). The buffer may hold part of the file's data then.
func (f Files) CancelRead(file File) { f.l.fileCancel(file.h, false) }

// CancelWrite cancels the pending write or truncation, if any, as
// CancelRead does a read: its callback will not run, and once CancelWrite
// returns the driver never reads the write's buffer again. A write in
// progress may have written part of the buffer; a truncation in progress
// may have taken place.
func (f Files) CancelWrite(file File) { f.l.fileCancel(file.h, true) }

// AddRef adds a reference to the file.
func (f Files) AddRef(file File) { f.l.fileAddRef(file.h) }

// ReleaseRef drops a reference; the last one cancels pending operations as
// CancelRead and CancelWrite do (their callbacks do not run, their buffers
// are no longer used) and closes the file. It reports whether the
// file is still alive: false when this call freed it or the handle was
// invalid.
func (f Files) ReleaseRef(file File) bool { return f.l.fileRelease(file.h) }

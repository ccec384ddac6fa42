package eventcore

// PipeIOCallback is called once per Read or Write on a pipe (unless
// cancelled) with the status and the number of bytes transferred.
type PipeIOCallback func(p Pipe, status IOStatus, n int)

// PipeCloseCallback is called once per Close, from ProcessEvents.
type PipeCloseCallback func(p Pipe, status CloseStatus)

// Pipes reads and writes pipes and other stream descriptors that are not
// sockets (terminals, character devices; regular files need [Files]):
// [Driver.Pipes] returns it. [Processes.Spawn] returns its pipes as Pipe
// handles. Its methods belong to the loop's owner goroutine, and its
// callbacks follow the same rules as those of [Sockets].
type Pipes struct{ l *loop }

// Adopt takes over fd, one end of a pipe (or a terminal, a FIFO, a
// character device). It is switched to non-blocking mode; the driver closes
// it when Close is called or the last reference is released. It fails with
// ErrAlreadyRegistered if the driver already owns fd, and with
// ErrNotSupported for a regular file or a directory (use [Files]).
func (p Pipes) Adopt(fd uintptr) (Pipe, error) {
	h, err := p.l.pipeAdopt(fd)
	return Pipe{h}, err
}

// Read reads into buf and calls cb (see [IOMode]). A read that sees the end
// of the pipe (all writers closed) completes with IOStatusDisconnected and
// the bytes read so far. A zero-length buf with IOModeOnce or IOModeAll waits
// until data can be read, without reading. Only one read may be pending.
// cb may run before Read returns.
func (p Pipes) Read(pipe Pipe, buf []byte, mode IOMode, cb PipeIOCallback) {
	p.l.fdRead(pipe.h, kindPipe, buf, mode, cb)
}

// Write writes buf and calls cb (see [IOMode]); the driver keeps buf until
// then. A write to a pipe whose readers are gone completes with
// IOStatusDisconnected. Only one write may be pending. cb may run before
// Write returns.
func (p Pipes) Write(pipe Pipe, buf []byte, mode IOMode, cb PipeIOCallback) {
	p.l.fdWrite(pipe.h, kindPipe, buf, mode, cb)
}

// CancelRead cancels the pending read, if any: its callback will not run.
func (p Pipes) CancelRead(pipe Pipe) { p.l.fdCancel(pipe.h, kindPipe, false) }

// CancelWrite cancels the pending write, if any: its callback will not run.
func (p Pipes) CancelWrite(pipe Pipe) { p.l.fdCancel(pipe.h, kindPipe, true) }

// WaitForData calls cb once data (or the end of the pipe) can be read,
// without reading.
func (p Pipes) WaitForData(pipe Pipe, cb PipeIOCallback) {
	p.l.fdRead(pipe.h, kindPipe, nil, IOModeOnce, cb)
}

// Close closes the pipe's descriptor now; cb runs later, from
// ProcessEvents. A read or write pending at that moment completes with
// IOStatusDisconnected before Close returns; later ones, those their
// callbacks start included, get IOStatusNotAllowed (LastError: ErrClosed).
// The handle stays valid until its last reference is released.
func (p Pipes) Close(pipe Pipe, cb PipeCloseCallback) { p.l.pipeClose(pipe.h, cb) }

// AddRef adds a reference to the pipe.
func (p Pipes) AddRef(pipe Pipe) { p.l.sockAddRef(pipe.h) }

// ReleaseRef drops a reference; the last one closes the pipe, cancelling
// its pending operations (their callbacks do not run). It reports whether
// the pipe is still alive: false when this call freed it or the handle was
// invalid.
func (p Pipes) ReleaseRef(pipe Pipe) bool { return p.l.sockRelease(pipe.h) }

//go:build unix

package eventcore

import "golang.org/x/sys/unix"

// Pipes on readiness drivers are descriptors like stream sockets, without
// a connection state: reads and writes are those of fdio_posix.go.

func (l *loop) pipeAdopt(fd uintptr) (handle, error) {
	if l.disposed {
		return 0, ErrDisposed
	}
	ifd := int(fd)
	if ifd < 0 || uintptr(ifd) != fd {
		return 0, unix.EBADF
	}
	if l.fdRegistered(ifd) {
		return 0, ErrAlreadyRegistered
	}
	var st unix.Stat_t
	if err := unix.Fstat(ifd, &st); err != nil {
		return 0, err
	}
	if m := st.Mode & unix.S_IFMT; m == unix.S_IFREG || m == unix.S_IFDIR {
		return 0, ErrNotSupported // always "ready": use Files
	}
	if err := unix.SetNonblock(ifd, true); err != nil {
		return 0, err
	}
	unix.CloseOnExec(ifd)
	h, e, err := l.newFD(kindPipe, ifd, 0)
	if err != nil {
		return 0, err
	}
	e.v.state = ConnectionConnected
	return h, nil
}

func (l *loop) pipeClose(h handle, cb PipeCloseCallback) {
	st := CloseStatusOK
	e := l.fds.get(h, kindPipe)
	if e == nil || e.v.fd < 0 {
		st = CloseStatusInvalidHandle
	} else {
		for _, op := range []*ioOp{&e.v.rd, &e.v.wr} {
			if op.active {
				e.err = ErrClosed
				l.complete(h, op, IOStatusDisconnected, Addr{})
				if e = l.fds.get(h, kindPipe); e == nil || e.v.fd < 0 {
					break // the callback released or closed it
				}
			}
		}
		if e != nil && e.v.fd >= 0 {
			if err := l.closeSysFD(e); err != nil {
				e.err = err
				st = CloseStatusIOError
			}
		}
	}
	if cb != nil {
		l.xq.push(crossItem{op: crossRun, fn: func() { cb(Pipe{h}, st) }})
	}
}

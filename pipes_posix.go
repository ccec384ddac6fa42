//go:build unix

package eventcore

import "golang.org/x/sys/unix"

// Pipes on readiness drivers are descriptors like stream sockets, without
// a connection state: reads and writes are those of fdio.go.

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

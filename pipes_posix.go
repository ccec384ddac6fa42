//go:build unix

package eventcore

import "golang.org/x/sys/unix"

// Pipes on readiness drivers are descriptors like stream sockets, without
// a connection state: reads and writes are those of fdio.go.

func (l *loop) pipeAdopt(fd uintptr) (handle, error) {
	ifd, err := l.adoptable(fd)
	if err != nil {
		return 0, err
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

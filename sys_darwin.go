package eventcore

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// sysSocket creates a non-blocking, close-on-exec socket. darwin's
// socket(2) takes no such flags, so they are set afterwards, under
// ForkLock so that a concurrent fork+exec cannot inherit the descriptor
// first.
func sysSocket(family, typ int) (int, error) {
	syscall.ForkLock.RLock()
	fd, err := unix.Socket(family, typ, 0)
	if err == nil {
		unix.CloseOnExec(fd)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return -1, err
	}
	if err := initSocket(fd); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// sysPipe creates a close-on-exec pipe (blocking: a child may get an end),
// under ForkLock for the same reason.
func sysPipe(p *[2]int) error {
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	if err := unix.Pipe(p[:]); err != nil {
		return err
	}
	unix.CloseOnExec(p[0])
	unix.CloseOnExec(p[1])
	return nil
}

// initSocket makes a new socket non-blocking, and keeps writes to a closed
// peer from raising SIGPIPE: SO_NOSIGPIPE is darwin's documented way, and
// accepted sockets need it set again.
func initSocket(fd int) error {
	if err := unix.SetNonblock(fd, true); err != nil {
		return err
	}
	return unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_NOSIGPIPE, 1)
}

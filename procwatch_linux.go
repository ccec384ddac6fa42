package eventcore

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// On Linux a process's exit is watched through a pidfd, which the poller
// reports readable when the process exits; kernels without pidfd_open
// (before 5.3) fall back to SIGCHLD, for children only (no Linux poller
// watches processes itself).

// sysWatchExit starts watching pid's exit under handle h.
func (l *loop) sysWatchExit(pid int, child bool, h handle) (exitWatch, error) {
	if l.noPidfd {
		return l.watchExitNoPidfd(pid, child, h)
	}
	fd, err := unix.PidfdOpen(pid, 0)
	if err == unix.ENOSYS {
		return l.watchExitNoPidfd(pid, child, h)
	}
	if err != nil {
		return exitWatch{}, err
	}
	if err := l.p.add(fd, h); err != nil {
		unix.Close(fd)
		return exitWatch{}, err
	}
	if err := l.p.modify(fd, h, evRead); err != nil {
		l.p.del(fd)
		unix.Close(fd)
		return exitWatch{}, err
	}
	return exitWatch{via: viaPidfd, fd: fd}, nil
}

func (l *loop) sysKill(pid int, w exitWatch, sig syscall.Signal) error {
	if w.via == viaPidfd {
		// Through the pidfd: never a process that reused the pid.
		return unix.PidfdSendSignal(w.fd, sig, nil, 0)
	}
	return unix.Kill(pid, sig)
}

package eventcore

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// On Linux a process's exit is watched through a pidfd, which the poller
// reports readable when the process exits; kernels without pidfd_open
// (before 5.3) fall back to SIGCHLD, for children only.

// sysWatchExit starts watching pid's exit under handle h, and returns the
// descriptor watched (-1: SIGCHLD).
func (l *loop) sysWatchExit(pid int, child bool, h handle) (int, error) {
	fd, err := unix.PidfdOpen(pid, 0)
	if err == unix.ENOSYS || l.noPidfd {
		if fd >= 0 {
			unix.Close(fd)
		}
		return sigchldWatchable(pid, child)
	}
	if err != nil {
		return -1, err
	}
	if err := l.p.add(fd, h); err != nil {
		unix.Close(fd)
		return -1, err
	}
	if err := l.p.modify(fd, h, evRead); err != nil {
		l.p.del(fd)
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

func (l *loop) sysKill(pid, watch int, sig syscall.Signal) error {
	if watch >= 0 {
		// Through the pidfd: never a process that reused the pid.
		return unix.PidfdSendSignal(watch, sig, nil, 0)
	}
	return unix.Kill(pid, sig)
}

//go:build unix && !linux

package eventcore

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// Without pidfd a process's exit is watched by the poller where it can
// (kqueue's EVFILT_PROC, any process), else through SIGCHLD (the poll
// driver; children only).

// sysWatchExit starts watching pid's exit under handle h.
func (l *loop) sysWatchExit(pid int, child bool, h handle) (exitWatch, error) {
	return l.watchExitNoPidfd(pid, child, h)
}

func (l *loop) sysKill(pid int, _ exitWatch, sig syscall.Signal) error { return unix.Kill(pid, sig) }

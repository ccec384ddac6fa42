//go:build unix && !linux

package eventcore

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// Without pidfd a process's exit is watched through SIGCHLD, for children
// only. (kqueue's EVFILT_PROC could watch any process; it is not used yet.)

// sysWatchExit starts watching pid's exit; -1: through SIGCHLD.
func (l *loop) sysWatchExit(pid int, child bool, _ handle) (int, error) {
	return sigchldWatchable(pid, child)
}

func (l *loop) sysKill(pid, _ int, sig syscall.Signal) error { return unix.Kill(pid, sig) }

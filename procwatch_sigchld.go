//go:build unix

package eventcore

import "golang.org/x/sys/unix"

// sigchldWatchable reports whether pid can be watched through SIGCHLD: only
// a child of this process can, since only its exits raise SIGCHLD here.
func sigchldWatchable(pid int, child bool) error {
	if !child {
		var ws unix.WaitStatus
		if _, err := unix.Wait4(pid, &ws, unix.WNOHANG, nil); err == unix.ECHILD {
			return ErrNotSupported
		}
	}
	return nil
}

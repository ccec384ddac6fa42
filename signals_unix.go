//go:build unix

package eventcore

import (
	"os"
	"syscall"
)

// sigCatchable tells the signals a listener can be told of: all but
// SIGKILL and SIGSTOP.
func sigCatchable(sig os.Signal) bool { return sig != syscall.SIGKILL && sig != syscall.SIGSTOP }

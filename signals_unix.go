//go:build unix

package eventcore

import "syscall"

// sigStop cannot be caught, like SIGKILL.
const sigStop = syscall.SIGSTOP

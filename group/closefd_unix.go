//go:build unix

package group

import "golang.org/x/sys/unix"

// closeFD closes a descriptor detached from a loop that no loop took.
func closeFD(fd uintptr) { unix.Close(int(fd)) }

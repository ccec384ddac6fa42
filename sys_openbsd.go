package eventcore

import "golang.org/x/sys/unix"

// initSocket makes an accepted socket non-blocking. OpenBSD has no
// SO_NOSIGPIPE; every send passes MSG_NOSIGNAL instead.
func initSocket(fd int) error { return unix.SetNonblock(fd, true) }

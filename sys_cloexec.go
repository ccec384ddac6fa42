//go:build dragonfly || freebsd || linux || netbsd || openbsd

package eventcore

import "golang.org/x/sys/unix"

// Descriptors that an exec does not inherit, created atomically where the
// system calls take the flags (darwin's do not: sys_darwin.go).

// sysSocket creates a non-blocking, close-on-exec socket.
func sysSocket(family, typ int) (int, error) {
	return unix.Socket(family, typ|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
}

// sysPipe creates a close-on-exec pipe (blocking: a child may get an end).
func sysPipe(p *[2]int) error { return unix.Pipe2(p[:], unix.O_CLOEXEC) }

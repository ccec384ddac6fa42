//go:build dragonfly || freebsd || linux || netbsd || openbsd

package eventcore

import "golang.org/x/sys/unix"

// sysSocket creates a non-blocking socket that an exec does not inherit,
// atomically, where socket(2) takes the flags.
func sysSocket(family, typ int) (int, error) {
	return unix.Socket(family, typ|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
}

//go:build dragonfly || freebsd || linux

package eventcore

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// sysAccept accepts a connection as a non-blocking, close-on-exec socket in
// one system call, writing the peer's address to rsa.
func sysAccept(fd int, rsa *unix.RawSockaddrAny) (int, uint32, error) {
	salen := uint32(unix.SizeofSockaddrAny)
	r, _, errno := unix.Syscall6(unix.SYS_ACCEPT4, uintptr(fd), uintptr(unsafe.Pointer(rsa)),
		uintptr(unsafe.Pointer(&salen)), unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0, 0)
	if errno != 0 {
		return -1, 0, errno
	}
	return int(r), salen, nil
}

package eventcore

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// Linux's part of the socket-address codec (sys_unix.go) and its
// system calls that differ from the BSDs'.

// abstractUnixPaths: a Unix-domain path starting with '@' names a socket in
// the abstract namespace, as x/sys writes it.
const abstractUnixPaths = true

// setSockaddrLen: Linux's sockaddr carries no length.
func setSockaddrLen(*unix.RawSockaddrAny, uint32) {}

// sysDisconnect dissolves a datagram socket's association.
func sysDisconnect(fd int) error {
	var sa unix.RawSockaddr
	sa.Family = unix.AF_UNSPEC
	_, _, errno := unix.Syscall(unix.SYS_CONNECT, uintptr(fd), uintptr(unsafe.Pointer(&sa)), unsafe.Sizeof(sa))
	if errno != 0 {
		return errno
	}
	return nil
}

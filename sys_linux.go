package eventcore

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// System calls of the per-message paths, made directly so that the
// address goes through the loop's scratch RawSockaddrAny: the x/sys
// wrappers return a freshly allocated Sockaddr each time.

func sysSocket(family, typ int) (int, error) {
	return unix.Socket(family, typ|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
}

func sysAccept(fd int, rsa *rawSockaddr) (int, int32, error) {
	salen := sizeofRawSockaddr
	r, _, errno := unix.Syscall6(unix.SYS_ACCEPT4, uintptr(fd), uintptr(rsa.ptr()),
		uintptr(unsafe.Pointer(&salen)), unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0, 0)
	if errno != 0 {
		return -1, 0, errno
	}
	return int(r), salen, nil
}

func sysRecvFrom(fd sysFD, p []byte, rsa *rawSockaddr) (int, int32, error) {
	salen := sizeofRawSockaddr
	rsa.clearFamily() // in case the kernel writes no address
	r, _, errno := unix.Syscall6(unix.SYS_RECVFROM, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(p))),
		uintptr(len(p)), 0, uintptr(rsa.ptr()), uintptr(unsafe.Pointer(&salen)))
	if errno == unix.EINTR {
		return sysRecvFrom(fd, p, rsa)
	}
	if errno != 0 {
		return 0, 0, errno
	}
	return int(r), salen, nil
}

func sysSendTo(fd sysFD, p []byte, rsa *rawSockaddr, salen int32) (int, error) {
	r, _, errno := unix.Syscall6(unix.SYS_SENDTO, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(p))),
		uintptr(len(p)), unix.MSG_NOSIGNAL, uintptr(rsa.ptr()), uintptr(salen))
	if errno == unix.EINTR {
		return sysSendTo(fd, p, rsa, salen)
	}
	if errno != 0 {
		return 0, errno
	}
	return int(r), nil
}

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

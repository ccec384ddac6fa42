//go:build dragonfly || freebsd || linux || netbsd

package eventcore

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// System calls of the per-message paths, made directly where the kernel's
// system-call interface is public (not on darwin and OpenBSD, which allow
// only their C library), so that the address goes through the loop's
// scratch RawSockaddrAny and nothing is allocated.
//
// They use RawSyscall6, not Syscall6. Syscall6 tells the scheduler that the
// thread may block in the kernel (entersyscall/exitsyscall), so that its P
// can run other goroutines meanwhile; sysmon takes the P away from a call
// that lasts over 20 µs, and getting it back costs a thread hand-off. Every
// call here is on a non-blocking descriptor and returns at once, so that
// bookkeeping buys nothing and costs on every message. (The loop blocks in
// its poller's wait, not here.)

// sysRecvFrom receives one datagram into p, its sender's address into rsa.
// It is recvmsg rather than recvfrom, for the flags the kernel returns:
// trunc reports MSG_TRUNC, a datagram longer than p, of which p holds the
// first len(p) bytes (the rest is dropped).
func sysRecvFrom(fd int, p []byte, rsa *unix.RawSockaddrAny) (n int, salen uint32, trunc bool, err error) {
	rsa.Addr.Family = unix.AF_UNSPEC // in case the kernel writes no address
	iov := unix.Iovec{Base: unsafe.SliceData(p)}
	iov.SetLen(len(p))
	msg := unix.Msghdr{Name: (*byte)(unsafe.Pointer(rsa)), Namelen: unix.SizeofSockaddrAny, Iov: &iov}
	msg.SetIovlen(1)
	r, _, errno := unix.RawSyscall(unix.SYS_RECVMSG, uintptr(fd), uintptr(unsafe.Pointer(&msg)), 0)
	if errno != 0 {
		return 0, 0, false, errno
	}
	return int(r), msg.Namelen, msg.Flags&unix.MSG_TRUNC != 0, nil
}

// sysSendTo sends p to the address to, encoded into the scratch rsa.
func sysSendTo(fd int, p []byte, to Addr, rsa *unix.RawSockaddrAny) (int, error) {
	salen, err := encodeSockaddr(to, rsa)
	if err != nil {
		return 0, err
	}
	return sendTo(fd, p, rsa, salen)
}

func sendTo(fd int, p []byte, rsa *unix.RawSockaddrAny, salen uint32) (int, error) {
	r, _, errno := unix.RawSyscall6(unix.SYS_SENDTO, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(p))),
		uintptr(len(p)), unix.MSG_NOSIGNAL, uintptr(unsafe.Pointer(rsa)), uintptr(salen))
	if errno != 0 {
		return 0, errno
	}
	return int(r), nil
}

// sysSend writes to a connected socket; MSG_NOSIGNAL keeps a closed peer
// from raising SIGPIPE.
func sysSend(fd int, p []byte) (int, error) { return sendTo(fd, p, nil, 0) }

// sysReadFD reads from a non-blocking descriptor.
func sysReadFD(fd int, p []byte) (int, error) {
	r, _, errno := unix.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(len(p)))
	if errno != 0 {
		return 0, errno
	}
	return int(r), nil
}

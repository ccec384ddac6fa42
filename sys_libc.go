//go:build darwin || openbsd

package eventcore

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// System calls of the per-message paths on darwin and OpenBSD, which
// allow system calls only through their C library: x/sys's wrappers are
// the way there, and those return the peer's address as a freshly
// allocated Sockaddr, so accept, receive and sendto to an explicit address
// allocate here (stream reads and writes do not).

// sysAccept accepts a connection as a non-blocking, close-on-exec socket;
// holding ForkLock keeps a concurrent fork+exec from inheriting it before
// it is marked.
func sysAccept(fd int, rsa *unix.RawSockaddrAny) (int, uint32, error) {
	syscall.ForkLock.RLock()
	nfd, sa, err := unix.Accept(fd)
	if err == nil {
		unix.CloseOnExec(nfd)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return -1, 0, err
	}
	if err := initSocket(nfd); err != nil {
		unix.Close(nfd)
		return -1, 0, err
	}
	return nfd, sockaddrToRaw(sa, rsa), nil
}

// sysRecvFrom receives one datagram into p, its sender's address into rsa;
// trunc reports MSG_TRUNC, a datagram longer than p, of which p holds the
// first len(p) bytes (the rest is dropped).
func sysRecvFrom(fd int, p []byte, rsa *unix.RawSockaddrAny) (n int, salen uint32, trunc bool, err error) {
	n, _, flags, sa, err := unix.Recvmsg(fd, p, nil, 0)
	if err != nil && n < 0 {
		return 0, 0, false, err
	}
	// An address x/sys cannot convert (an unnamed Unix-domain sender on
	// some systems) comes with the datagram: report an unnamed sender.
	return n, sockaddrToRaw(sa, rsa), flags&unix.MSG_TRUNC != 0, nil
}

// sysSendTo sends p to the address to; rsa is not needed here.
func sysSendTo(fd int, p []byte, to Addr, _ *unix.RawSockaddrAny) (int, error) {
	sa, _, _, err := sockaddrOf(to)
	if err != nil {
		return 0, err
	}
	// A datagram is sent whole or not at all.
	if err := unix.Sendto(fd, p, unix.MSG_NOSIGNAL, sa); err != nil {
		return 0, err
	}
	return len(p), nil
}

// sysSend writes to a connected socket; MSG_NOSIGNAL keeps a closed peer
// from raising SIGPIPE.
func sysSend(fd int, p []byte) (int, error) {
	return unix.SendmsgN(fd, p, nil, nil, unix.MSG_NOSIGNAL)
}

// sockaddrToRaw writes sa to rsa as the kernel would have; nil (no or an
// unknown address) gives length 0.
func sockaddrToRaw(sa unix.Sockaddr, rsa *unix.RawSockaddrAny) uint32 {
	rsa.Addr.Family = unix.AF_UNSPEC
	a := addrOf(sa)
	switch {
	case a.IsUnix() && a.Path() == "":
		rsa.Addr.Family = unix.AF_UNIX // an unnamed peer
		return sunPathOffset
	case a.IsZero():
		return 0
	}
	n, err := encodeSockaddr(a, rsa)
	if err != nil {
		return 0
	}
	return n
}

// sysReadFD reads from a non-blocking descriptor.
func sysReadFD(fd int, p []byte) (int, error) { return unix.Read(fd, p) }

package eventcore

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// System calls of the per-message paths, made directly so that the
// address goes through the loop's scratch RawSockaddrAny: the x/sys
// wrappers return a freshly allocated Sockaddr each time.
//
// They use RawSyscall6, not Syscall6. Syscall6 tells the scheduler that the
// thread may block in the kernel (entersyscall/exitsyscall), so that its P
// can run other goroutines meanwhile; sysmon takes the P away from a call
// that lasts over 20 µs, and getting it back costs a thread hand-off. Every
// call here is on a non-blocking descriptor (or has a zero timeout) and
// returns at once, so that bookkeeping buys nothing and costs on every
// message. The loop's blocking wait goes through the Go runtime's poller
// instead (poller_epoll.go).

func sysSocket(family, typ int) (int, error) {
	return unix.Socket(family, typ|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
}

func sysAccept(fd int, rsa *unix.RawSockaddrAny) (int, uint32, error) {
	salen := uint32(unix.SizeofSockaddrAny)
	r, _, errno := unix.RawSyscall6(unix.SYS_ACCEPT4, uintptr(fd), uintptr(unsafe.Pointer(rsa)),
		uintptr(unsafe.Pointer(&salen)), unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0, 0)
	if errno != 0 {
		return -1, 0, errno
	}
	return int(r), salen, nil
}

func sysRecvFrom(fd int, p []byte, rsa *unix.RawSockaddrAny) (int, uint32, error) {
	salen := uint32(unix.SizeofSockaddrAny)
	rsa.Addr.Family = unix.AF_UNSPEC // in case the kernel writes no address
	r, _, errno := unix.RawSyscall6(unix.SYS_RECVFROM, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(p))),
		uintptr(len(p)), 0, uintptr(unsafe.Pointer(rsa)), uintptr(unsafe.Pointer(&salen)))
	if errno != 0 {
		return 0, 0, errno
	}
	return int(r), salen, nil
}

func sysSendTo(fd int, p []byte, rsa *unix.RawSockaddrAny, salen uint32) (int, error) {
	r, _, errno := unix.RawSyscall6(unix.SYS_SENDTO, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(p))),
		uintptr(len(p)), unix.MSG_NOSIGNAL, uintptr(unsafe.Pointer(rsa)), uintptr(salen))
	if errno != 0 {
		return 0, errno
	}
	return int(r), nil
}

// sysSend writes to a connected socket; MSG_NOSIGNAL keeps a closed peer
// from raising SIGPIPE.
func sysSend(fd int, p []byte) (int, error) { return sysSendTo(fd, p, nil, 0) }

// sysRead reads from a non-blocking descriptor.
func sysRead(fd int, p []byte) (int, error) {
	r, _, errno := unix.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(len(p)))
	if errno != 0 {
		return 0, errno
	}
	return int(r), nil
}

// sysReadable reports whether a read on fd would not block (data, the end
// of the stream, or an error to collect), without reading: ppoll with a
// zero timeout, which every Linux architecture has.
func sysReadable(fd int) (bool, error) {
	pfd := unix.PollFd{Fd: int32(fd), Events: unix.POLLIN}
	var ts unix.Timespec
	for {
		r, _, errno := unix.RawSyscall6(unix.SYS_PPOLL, uintptr(unsafe.Pointer(&pfd)), 1, uintptr(unsafe.Pointer(&ts)), 0, 0, 0)
		switch errno {
		case 0:
			return r > 0, nil
		case unix.EINTR:
			continue
		}
		return false, errno
	}
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

const sunPathOffset = 2 // offsetof(struct sockaddr_un, sun_path)

// decodeSockaddr reads what the kernel wrote to rsa. A Unix-domain path
// equal to *cache reuses the cached string, so a datagram socket that hears
// from the same peer again allocates nothing.
func decodeSockaddr(rsa *unix.RawSockaddrAny, salen uint32, cache *string) Addr {
	switch rsa.Addr.Family {
	case unix.AF_INET:
		sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(rsa))
		return Addr{ap: netipAddrPort4(sa.Addr, ntohs(sa.Port))}
	case unix.AF_INET6:
		sa := (*unix.RawSockaddrInet6)(unsafe.Pointer(rsa))
		return Addr{ap: netipAddrPort6(sa.Addr, sa.Scope_id, ntohs(sa.Port))}
	case unix.AF_UNIX:
		sa := (*unix.RawSockaddrUnix)(unsafe.Pointer(rsa))
		n := int(salen) - sunPathOffset
		if n <= 0 {
			return Addr{unix: true}
		}
		n = min(n, len(sa.Path))
		b := unsafe.Slice((*byte)(unsafe.Pointer(&sa.Path[0])), n)
		if b[0] == 0 {
			b[0] = '@' // abstract namespace, written as x/sys does
		} else {
			for i, c := range b {
				if c == 0 {
					b = b[:i]
					break
				}
			}
		}
		if cache == nil {
			return UnixAddr(string(b))
		}
		if string(b) != *cache {
			*cache = string(b)
		}
		return UnixAddr(*cache)
	}
	return Addr{}
}

// encodeSockaddr writes a into rsa for sendto and returns its length.
func encodeSockaddr(a Addr, rsa *unix.RawSockaddrAny) (uint32, error) {
	switch {
	case a.IsUnix():
		sa := (*unix.RawSockaddrUnix)(unsafe.Pointer(rsa))
		p := a.path
		if p == "" || len(p) > len(sa.Path) {
			return 0, ErrInvalidAddress
		}
		sa.Family = unix.AF_UNIX
		for i := 0; i < len(p); i++ {
			sa.Path[i] = int8(p[i])
		}
		n := len(p)
		if p[0] == '@' {
			sa.Path[0] = 0
		} else if n < len(sa.Path) {
			sa.Path[n] = 0
			n++
		}
		return uint32(sunPathOffset + n), nil
	case !a.ap.IsValid():
		return 0, ErrInvalidAddress
	case a.ap.Addr().Is4():
		sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(rsa))
		*sa = unix.RawSockaddrInet4{Family: unix.AF_INET, Port: htons(a.ap.Port()), Addr: a.ap.Addr().As4()}
		return unix.SizeofSockaddrInet4, nil
	}
	zone, err := zoneIndex(a.ap.Addr().Zone())
	if err != nil {
		return 0, err
	}
	sa := (*unix.RawSockaddrInet6)(unsafe.Pointer(rsa))
	*sa = unix.RawSockaddrInet6{Family: unix.AF_INET6, Port: htons(a.ap.Port()), Addr: a.ap.Addr().As16(), Scope_id: zone}
	return unix.SizeofSockaddrInet6, nil
}

// ntohs and htons convert the port field, which holds network byte order.
func ntohs(p uint16) uint16 {
	b := (*[2]byte)(unsafe.Pointer(&p))
	return uint16(b[0])<<8 | uint16(b[1])
}

func htons(p uint16) uint16 {
	var r uint16
	b := (*[2]byte)(unsafe.Pointer(&r))
	b[0], b[1] = byte(p>>8), byte(p)
	return r
}

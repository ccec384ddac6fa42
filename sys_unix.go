//go:build unix

package eventcore

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// The socket-address codec of the per-message paths (accept, receive,
// sendto): they pass the loop's scratch RawSockaddrAny to the kernel, since
// the x/sys wrappers return a freshly allocated Sockaddr each time. What
// differs per OS is in sys_linux.go and sys_bsd.go: the BSDs' sockaddr
// starts with a length byte (setSockaddrLen), and only Linux has the
// abstract Unix-domain namespace (abstractUnixPaths).

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
		if abstractUnixPaths && b[0] == 0 {
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
	var n uint32
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
		l := len(p)
		if abstractUnixPaths && p[0] == '@' {
			sa.Path[0] = 0
		} else if l < len(sa.Path) {
			sa.Path[l] = 0
			l++
		}
		n = uint32(sunPathOffset + l)
	case !a.ap.IsValid():
		return 0, ErrInvalidAddress
	case a.ap.Addr().Is4():
		sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(rsa))
		*sa = unix.RawSockaddrInet4{Family: unix.AF_INET, Port: htons(a.ap.Port()), Addr: a.ap.Addr().As4()}
		n = unix.SizeofSockaddrInet4
	default:
		zone, err := zoneIndex(a.ap.Addr().Zone())
		if err != nil {
			return 0, err
		}
		sa := (*unix.RawSockaddrInet6)(unsafe.Pointer(rsa))
		*sa = unix.RawSockaddrInet6{Family: unix.AF_INET6, Port: htons(a.ap.Port()), Addr: a.ap.Addr().As16(), Scope_id: zone}
		n = unix.SizeofSockaddrInet6
	}
	setSockaddrLen(rsa, n)
	return n, nil
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

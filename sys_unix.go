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
		return decodeUnixPath(sunPath(sa), int(salen), cache)
	}
	return Addr{}
}

// encodeSockaddr writes a into rsa for sendto and returns its length.
func encodeSockaddr(a Addr, rsa *unix.RawSockaddrAny) (uint32, error) {
	var n uint32
	switch {
	case a.IsUnix():
		sa := (*unix.RawSockaddrUnix)(unsafe.Pointer(rsa))
		l, err := encodeUnixPath(sunPath(sa), a.path)
		if err != nil {
			return 0, err
		}
		sa.Family = unix.AF_UNIX
		n = uint32(l)
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

// sunPathLen is the size of sockaddr_un's sun_path on this system.
const sunPathLen = len(unix.RawSockaddrUnix{}.Path)

// sunPath is sa's path field as bytes (int8 on some systems).
func sunPath(sa *unix.RawSockaddrUnix) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(&sa.Path[0])), len(sa.Path))
}

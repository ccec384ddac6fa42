package eventcore

import "unsafe"

// The socket address codec of the winapi driver's per-packet paths
// (accept, receive, send-to), the counterpart of sys_unix.go: addresses go
// through a caller-owned rawSockaddr, so converting one allocates nothing,
// unlike the Sockaddr interfaces of x/sys.

// abstractUnixPaths: Windows has no abstract Unix-domain namespace.
const abstractUnixPaths = false

// rawSockaddr is room for any socket address (struct sockaddr_storage),
// 8-byte aligned.
type rawSockaddr struct{ b [16]uint64 }

type sockaddrIn struct {
	family uint16
	port   uint16 // network byte order
	addr   [4]byte
	zero   [8]byte
}

type sockaddrIn6 struct {
	family   uint16
	port     uint16 // network byte order
	flowinfo uint32
	addr     [16]byte
	scope    uint32
}

type sockaddrUn struct {
	family uint16
	path   [108]byte
}

const (
	sizeofSockaddrIn  = int32(unsafe.Sizeof(sockaddrIn{}))
	sizeofSockaddrIn6 = int32(unsafe.Sizeof(sockaddrIn6{}))
	sizeofRawSockaddr = int32(unsafe.Sizeof(rawSockaddr{}))
	sunPathOffset     = 2 // offsetof(struct sockaddr_un, sun_path)
)

func (r *rawSockaddr) family() uint16 { return *(*uint16)(unsafe.Pointer(r)) }

// clearFamily marks r as holding no address, for calls that may write none.
func (r *rawSockaddr) clearFamily() { *(*uint16)(unsafe.Pointer(r)) = 0 }

func (r *rawSockaddr) ptr() unsafe.Pointer { return unsafe.Pointer(r) }

// decodeSockaddr reads the address of length salen in r. A Unix-domain path
// equal to *cache reuses the cached string, so a datagram socket that hears
// from the same peer again allocates nothing.
func decodeSockaddr(r *rawSockaddr, salen int32, cache *string) Addr {
	switch r.family() {
	case afInet:
		sa := (*sockaddrIn)(r.ptr())
		return Addr{ap: netipAddrPort4(sa.addr, ntohs(sa.port))}
	case afInet6:
		sa := (*sockaddrIn6)(r.ptr())
		return Addr{ap: netipAddrPort6(sa.addr, sa.scope, ntohs(sa.port))}
	case afUnix:
		sa := (*sockaddrUn)(r.ptr())
		n := int(salen) - sunPathOffset
		if n <= 0 {
			return Addr{unix: true}
		}
		b := sa.path[:min(n, len(sa.path))]
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

// encodeSockaddr writes a into r and returns its length.
func encodeSockaddr(a Addr, r *rawSockaddr) (int32, error) {
	switch {
	case a.IsUnix():
		sa := (*sockaddrUn)(r.ptr())
		p := a.path
		if p == "" || len(p) > len(sa.path) {
			return 0, ErrInvalidAddress
		}
		sa.family = afUnix
		copy(sa.path[:], p)
		n := len(p)
		if abstractUnixPaths && p[0] == '@' {
			sa.path[0] = 0
		} else if n < len(sa.path) {
			sa.path[n] = 0
			n++
		}
		return int32(sunPathOffset + n), nil
	case !a.ap.IsValid():
		return 0, ErrInvalidAddress
	case a.ap.Addr().Is4():
		*(*sockaddrIn)(r.ptr()) = sockaddrIn{family: afInet, port: htons(a.ap.Port()), addr: a.ap.Addr().As4()}
		return sizeofSockaddrIn, nil
	}
	zone, err := zoneIndex(a.ap.Addr().Zone())
	if err != nil {
		return 0, err
	}
	*(*sockaddrIn6)(r.ptr()) = sockaddrIn6{family: afInet6, port: htons(a.ap.Port()), addr: a.ap.Addr().As16(), scope: zone}
	return sizeofSockaddrIn6, nil
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

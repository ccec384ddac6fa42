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

// sunPathLen is the size of sockaddr_un's sun_path.
const sunPathLen = len(sockaddrUn{}.path)

const (
	sizeofSockaddrIn  = int32(unsafe.Sizeof(sockaddrIn{}))
	sizeofSockaddrIn6 = int32(unsafe.Sizeof(sockaddrIn6{}))
	sizeofRawSockaddr = int32(unsafe.Sizeof(rawSockaddr{}))
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
		return decodeUnixPath((*sockaddrUn)(r.ptr()).path[:], int(salen), cache)
	}
	return Addr{}
}

// encodeSockaddr writes a into r and returns its length.
func encodeSockaddr(a Addr, r *rawSockaddr) (int32, error) {
	switch {
	case a.IsUnix():
		sa := (*sockaddrUn)(r.ptr())
		n, err := encodeUnixPath(sa.path[:], a.path)
		if err != nil {
			return 0, err
		}
		sa.family = afUnix
		return int32(n), nil
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

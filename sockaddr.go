package eventcore

import (
	"fmt"
	"strings"
	"unsafe"
)

// What the socket-address codecs of every OS share (sys_unix.go for the
// POSIX systems, sockaddr_codec_windows.go for Windows): the Unix-domain
// path in sun_path, and the port's byte order. The codecs lay out the
// structures themselves, each the way its system does.

// sunPathOffset is offsetof(struct sockaddr_un, sun_path) everywhere: a
// 16-bit family first, or on the BSDs a length byte and an 8-bit family.
const sunPathOffset = 2

// decodeUnixPath reads the Unix-domain address in sun_path path, of which
// the kernel reported salen bytes of address. A path equal to *cache
// reuses the cached string, so a datagram socket that hears from the same
// peer again allocates nothing.
func decodeUnixPath(path []byte, salen int, cache *string) Addr {
	n := salen - sunPathOffset
	if n <= 0 {
		return Addr{unix: true} // an unnamed peer
	}
	b := path[:min(n, len(path))]
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

// errUnixPathNUL refuses a Unix-domain path with a NUL byte: the system
// would take the part before it for the whole path, and bind or reach
// another socket than the one named (binding leaves that one's file
// behind).
var errUnixPathNUL = fmt.Errorf("%w: NUL byte in a Unix-domain socket path", ErrInvalidAddress)

// checkUnixPath refuses a Unix-domain path that cannot name a socket: an
// empty one, one longer than sun_path (sunPathLen bytes), and one with a
// NUL byte. A name in the abstract namespace ('@' first, on Linux) may
// hold NULs: the kernel takes it as bytes of a given length, so it names
// exactly what it says, and leaves no file.
func checkUnixPath(p string) error {
	switch {
	case p == "" || len(p) > sunPathLen:
		return ErrInvalidAddress
	case strings.IndexByte(p, 0) >= 0 && !(abstractUnixPaths && p[0] == '@'):
		return errUnixPathNUL
	}
	return nil
}

// encodeUnixPath writes the Unix-domain path p into sun_path path and
// returns the length of the address (the family's bytes included).
func encodeUnixPath(path []byte, p string) (int, error) {
	if err := checkUnixPath(p); err != nil {
		return 0, err
	}
	copy(path, p)
	n := len(p)
	if abstractUnixPaths && p[0] == '@' {
		path[0] = 0
	} else if n < len(path) {
		path[n] = 0 // a terminating NUL where there is room, as C callers write it
		n++
	}
	return sunPathOffset + n, nil
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

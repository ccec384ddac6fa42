package eventcore

import (
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// Addr is a socket address: an IP address and port, or a Unix-domain socket
// path. It is a small value type, so passing and returning one allocates
// nothing. The zero Addr means "no address" (for example "do not bind").
//
// On Linux, a Unix-domain path that starts with '@' names a socket in the
// abstract namespace; elsewhere it is an ordinary file name. A path
// (unlike an abstract name) must not contain a NUL byte, which would end
// the path the system sees early. An Addr received from the driver (accept,
// receive) for an unnamed Unix-domain peer has IsUnix true and an empty
// Path.
type Addr struct {
	ap   netip.AddrPort
	path string
	unix bool
}

// AddrFromAddrPort returns the IP address and port ap as an Addr.
func AddrFromAddrPort(ap netip.AddrPort) Addr { return Addr{ap: ap} }

// UnixAddr returns the Unix-domain socket address path. A path that cannot
// name a socket (empty, longer than the system's sun_path, or with a NUL
// byte outside the abstract namespace) is refused with an error that wraps
// ErrInvalidAddress where the Addr is used: listening, connecting, binding,
// sending to it; [ParseAddr] and [AddrFromNet] refuse it at once.
func UnixAddr(path string) Addr { return Addr{path: path, unix: true} }

// ParseAddr parses "host:port" with an IP literal host ("127.0.0.1:80",
// "[::1]:80"), or a Unix-domain socket path written "unix:PATH" or as a path
// starting with '/', "./" or '@'. A path that cannot name a socket (see
// [UnixAddr]) gives an error that wraps ErrInvalidAddress.
func ParseAddr(s string) (Addr, error) {
	switch {
	case strings.HasPrefix(s, "unix:"):
		return unixAddrChecked(s[len("unix:"):])
	case strings.HasPrefix(s, "/"), strings.HasPrefix(s, "./"), strings.HasPrefix(s, "@"):
		return unixAddrChecked(s)
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return Addr{}, err
	}
	return Addr{ap: ap}, nil
}

// MustParseAddr is like [ParseAddr] but panics if s cannot be parsed; it is
// meant for constant addresses in programs and tests.
func MustParseAddr(s string) Addr {
	a, err := ParseAddr(s)
	if err != nil {
		panic(err)
	}
	return a
}

// unixAddrChecked is UnixAddr for the constructors that can refuse a path.
func unixAddrChecked(path string) (Addr, error) {
	if err := checkUnixPath(path); err != nil {
		return Addr{}, err
	}
	return UnixAddr(path), nil
}

// AddrFromNet converts a *net.TCPAddr, *net.UDPAddr or *net.UnixAddr. A
// Unix-domain path that cannot name a socket (see [UnixAddr]) gives an
// error that wraps ErrInvalidAddress.
func AddrFromNet(a net.Addr) (Addr, error) {
	switch a := a.(type) {
	case *net.TCPAddr:
		return addrFromIP(a.IP, a.Port, a.Zone)
	case *net.UDPAddr:
		return addrFromIP(a.IP, a.Port, a.Zone)
	case *net.UnixAddr:
		return unixAddrChecked(a.Name)
	}
	return Addr{}, ErrInvalidAddress
}

func addrFromIP(ip net.IP, port int, zone string) (Addr, error) {
	ipa, ok := netip.AddrFromSlice(ip)
	if !ok || port < 0 || port > 0xffff {
		return Addr{}, ErrInvalidAddress
	}
	if len(ip) == net.IPv4len || ip.To4() != nil {
		ipa = ipa.Unmap()
	}
	return Addr{ap: netip.AddrPortFrom(ipa.WithZone(zone), uint16(port))}, nil
}

// IsZero reports whether a is the zero Addr.
func (a Addr) IsZero() bool { return !a.unix && !a.ap.IsValid() }

// IsUnix reports whether a is a Unix-domain socket address.
func (a Addr) IsUnix() bool { return a.unix }

// IsIP reports whether a is an IP address and port.
func (a Addr) IsIP() bool { return !a.unix && a.ap.IsValid() }

// AddrPort returns the IP address and port; it is invalid for a Unix address.
func (a Addr) AddrPort() netip.AddrPort { return a.ap }

// Port returns the port of an IP address, 0 otherwise.
func (a Addr) Port() uint16 { return a.ap.Port() }

// Path returns the Unix-domain socket path; it is empty for an IP address.
func (a Addr) Path() string { return a.path }

// String returns "ip:port", "[ipv6]:port", "unix:PATH", or "" for the zero
// Addr.
func (a Addr) String() string {
	switch {
	case a.unix:
		return "unix:" + a.path
	case a.ap.IsValid():
		return a.ap.String()
	}
	return ""
}

func netipAddrPort4(a [4]byte, port uint16) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4(a), port)
}

func netipAddrPort6(a [16]byte, zone uint32, port uint16) netip.AddrPort {
	ip := netip.AddrFrom16(a)
	if zone != 0 {
		ip = ip.WithZone(zoneName(zone))
	}
	return netip.AddrPortFrom(ip, port)
}

// zoneIndex resolves an IPv6 zone, an interface name or number, to the
// interface index a socket address carries.
func zoneIndex(zone string) (uint32, error) {
	if zone == "" {
		return 0, nil
	}
	if n, err := strconv.ParseUint(zone, 10, 32); err == nil {
		return uint32(n), nil
	}
	ifi, err := net.InterfaceByName(zone)
	if err != nil {
		return 0, err
	}
	return uint32(ifi.Index), nil
}

func zoneName(index uint32) string {
	if ifi, err := net.InterfaceByIndex(int(index)); err == nil {
		return ifi.Name
	}
	return strconv.FormatUint(uint64(index), 10)
}

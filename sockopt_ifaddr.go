//go:build !linux

package eventcore

import (
	"fmt"
	"net"
)

// interfaceAddr4 returns an IPv4 address of interface ifIndex; index 0
// gives the unspecified address, which lets the kernel choose. The BSDs'
// and Windows's IPv4 multicast options name an interface by an address
// (Linux's ip_mreqn takes the index itself).
func interfaceAddr4(ifIndex uint32) ([4]byte, error) {
	if ifIndex == 0 {
		return [4]byte{}, nil
	}
	ifi, err := net.InterfaceByIndex(int(ifIndex))
	if err != nil {
		return [4]byte{}, err
	}
	addrs, err := ifi.Addrs()
	if err != nil {
		return [4]byte{}, err
	}
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok {
			if ip4 := ipn.IP.To4(); ip4 != nil {
				return [4]byte(ip4), nil
			}
		}
	}
	return [4]byte{}, fmt.Errorf("interface %s has no IPv4 address: %w", ifi.Name, errAddrNotAvail)
}

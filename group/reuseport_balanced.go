//go:build linux || dragonfly

package group

// kernelBalancesReusePort: the kernel spreads the connections (and
// datagrams) of one address over the SO_REUSEPORT sockets bound to it.
const kernelBalancesReusePort = true

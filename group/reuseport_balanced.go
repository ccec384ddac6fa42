//go:build linux || dragonfly || freebsd

package group

// kernelBalancesReusePort: the kernel spreads the connections (and
// datagrams) of one address over the sockets bound to it with
// eventcore.ListenReusePort (SO_REUSEPORT; FreeBSD's SO_REUSEPORT_LB).
const kernelBalancesReusePort = true

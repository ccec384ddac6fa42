//go:build !(linux || dragonfly)

package group

// kernelBalancesReusePort: SO_REUSEPORT lets sockets share an address,
// but the kernel gives one of them all its connections (macOS, NetBSD,
// OpenBSD; FreeBSD balances only with SO_REUSEPORT_LB), or has no such
// option (Windows).
const kernelBalancesReusePort = false

//go:build !(linux || dragonfly || freebsd)

package group

// kernelBalancesReusePort: SO_REUSEPORT lets sockets share an address,
// but the kernel gives one of them all its connections (macOS, NetBSD,
// OpenBSD), or has no such option (Windows).
const kernelBalancesReusePort = false

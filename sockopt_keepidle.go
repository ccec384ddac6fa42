//go:build dragonfly || freebsd || linux || netbsd

package eventcore

import "golang.org/x/sys/unix"

// tcpKeepIdle sets the idle time before the first keep-alive probe.
const tcpKeepIdle = unix.TCP_KEEPIDLE

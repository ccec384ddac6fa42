//go:build unix && !freebsd

package eventcore

import "golang.org/x/sys/unix"

// soReusePort is the option behind ListenReusePort and DatagramReusePort.
const soReusePort = unix.SO_REUSEPORT

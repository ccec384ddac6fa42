package eventcore

import "golang.org/x/sys/unix"

// tcpKeepIdle sets the idle time before the first keep-alive probe; darwin
// calls it TCP_KEEPALIVE.
const tcpKeepIdle = unix.TCP_KEEPALIVE

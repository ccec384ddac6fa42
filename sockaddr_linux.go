package eventcore

import "golang.org/x/sys/unix"

// Address family numbers of the shared codec (sockaddr.go).
const (
	afInet  = unix.AF_INET
	afInet6 = unix.AF_INET6
	afUnix  = unix.AF_UNIX
)

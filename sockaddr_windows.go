package eventcore

import "golang.org/x/sys/windows"

// Address family numbers of the shared codec (sockaddr.go).
const (
	afInet  = windows.AF_INET
	afInet6 = windows.AF_INET6
	afUnix  = windows.AF_UNIX
)

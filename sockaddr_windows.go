package eventcore

import "golang.org/x/sys/windows"

// Address family numbers of the codec (sockaddr_codec_windows.go).
const (
	afInet  = windows.AF_INET
	afInet6 = windows.AF_INET6
	afUnix  = windows.AF_UNIX
)

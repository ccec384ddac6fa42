package leakcheck

import (
	"unsafe"

	"golang.org/x/sys/windows"
)

var procGetProcessHandleCount = windows.NewLazySystemDLL("kernel32.dll").NewProc("GetProcessHandleCount")

// OpenFDs counts this process's open handles; -1 where it cannot. Wine
// answers 0 (a process has handles to its own threads at least): that is
// -1 too.
func OpenFDs() int {
	var n uint32
	if r, _, _ := procGetProcessHandleCount.Call(uintptr(windows.CurrentProcess()), uintptr(unsafe.Pointer(&n))); r == 0 || n == 0 {
		return -1
	}
	return int(n)
}

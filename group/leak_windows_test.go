package group

import (
	"testing"
	"unsafe"

	"golang.org/x/sys/windows"
)

var procGetProcessHandleCount = windows.NewLazySystemDLL("kernel32.dll").NewProc("GetProcessHandleCount")

// openFDs counts this process's open handles.
func openFDs(t *testing.T) int {
	t.Helper()
	var n uint32
	if r, _, err := procGetProcessHandleCount.Call(uintptr(windows.CurrentProcess()), uintptr(unsafe.Pointer(&n))); r == 0 {
		t.Skipf("GetProcessHandleCount: %v", err)
	}
	return int(n)
}

// raiseFDLimit: Windows has no per-process limit on sockets below what
// the tests need.
func raiseFDLimit(*testing.T) int { return 1 << 20 }

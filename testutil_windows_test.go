package eventcore

import (
	"os"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
)

// The Windows side of testutil_unix_test.go: handles instead of
// descriptors.

var procGetProcessHandleCount = windows.NewLazySystemDLL("kernel32.dll").NewProc("GetProcessHandleCount")

// openHandles counts this process's open handles.
func openHandleCount(t *testing.T) int {
	t.Helper()
	var n uint32
	if r, _, err := procGetProcessHandleCount.Call(uintptr(windows.CurrentProcess()), uintptr(unsafe.Pointer(&n))); r == 0 {
		t.Skipf("GetProcessHandleCount: %v", err)
	}
	return int(n)
}

// checkNoFDLeak fails the test if it ends with more handles open than it
// started with. Handles closed by worker goroutines may take a moment.
func checkNoFDLeak(t *testing.T) {
	t.Helper()
	before := openHandleCount(t)
	t.Cleanup(func() {
		deadline := time.Now().Add(hangLimit)
		for openHandleCount(t) > before && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if after := openHandleCount(t); after > before {
			t.Errorf("%d handles leaked", after-before)
		}
	})
}

// dupFD returns a copy of f's handle, for the driver to own.
func dupFD(t *testing.T, f *os.File) uintptr {
	t.Helper()
	self := windows.CurrentProcess()
	var dup windows.Handle
	if err := windows.DuplicateHandle(self, windows.Handle(f.Fd()), self, &dup, 0, false, windows.DUPLICATE_SAME_ACCESS); err != nil {
		t.Fatal(err)
	}
	return uintptr(dup)
}

// skipUnderWine skips the test, with why, when it runs under Wine, whose
// emulation of some Windows function differs from Windows.
func skipUnderWine(t *testing.T, why string) {
	t.Helper()
	if windows.NewLazySystemDLL("ntdll.dll").NewProc("wine_get_version").Find() == nil {
		t.Skip(why)
	}
}

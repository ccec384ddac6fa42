//go:build unix

package eventcore

import (
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/eventcore-go/eventcore/internal/leakcheck"
)

// Test helpers that need the system's descriptors.

// openFDs counts this process's open descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	n := leakcheck.OpenFDs()
	if n < 0 {
		t.Skip("cannot count open descriptors here")
	}
	return n
}

// goPoller opens the Go runtime's network poller (on Linux an epoll and an
// eventfd), which opens with the process's first pollable file (a pipe of
// os/exec, a net.Conn) and stays open: counted after it, not as a leak of
// the test that happens to be first.
var goPoller sync.Once

// checkNoFDLeak fails the test if it ends with more descriptors open than
// it started with. Descriptors closed by worker goroutines may take a moment.
func checkNoFDLeak(t *testing.T) {
	t.Helper()
	goPoller.Do(func() {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		r.Close()
		w.Close()
	})
	before := openFDs(t)
	t.Cleanup(func() {
		deadline := time.Now().Add(hangLimit)
		for openFDs(t) > before && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if after := openFDs(t); after > before {
			t.Errorf("%d descriptors leaked", after-before)
		}
	})
}

// dupFD returns a copy of f's descriptor, for the driver to own.
func dupFD(t *testing.T, f *os.File) uintptr {
	t.Helper()
	fd, err := syscall.Dup(int(f.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	return uintptr(fd)
}

// skipUnderWine skips a test under Wine: never, on a POSIX system.
func skipUnderWine(*testing.T, string) {}

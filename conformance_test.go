package eventcore

import (
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// The conformance suite: every test that takes a driver runs against each
// driver usable here, or only the one EVENTCORE_DRIVER names, so that CI
// can run the whole suite once per driver.

func testDrivers(t *testing.T) []string {
	if name := os.Getenv("EVENTCORE_DRIVER"); name != "" {
		return []string{name}
	}
	return Drivers()
}

// forEachDriver runs fn once per driver on a fresh Driver made with opts,
// and fails the test if fn leaves a handle open.
func forEachDriver(t *testing.T, fn func(t *testing.T, d *Driver), opts ...Option) {
	t.Helper()
	for _, name := range testDrivers(t) {
		t.Run(name, func(t *testing.T) { testOn(t, newTestDriver(t, name, opts...), fn) })
	}
}

// testOn runs fn on d, then disposes of d, failing the test if fn left a
// handle open or a goroutine running.
func testOn(t *testing.T, d *Driver, fn func(t *testing.T, d *Driver)) {
	t.Helper()
	fn(t, d)
	if !d.Dispose() {
		t.Errorf("handles left open: %+v", d.OpenHandles())
	}
	checkNoDriverGoroutines(t)
}

// standIn is a driver that New does not offer: a loop whose poller is made
// to act like another system's, so that code written for that system runs
// here (standin_linux_test.go: kqueue's process and vnode watching, built
// from pidfd and inotify).
type standIn struct {
	name string
	new  func(t *testing.T) *Driver
}

// The stand-ins the watcher tests run on besides the drivers, set where
// there are any.
var watcherStandIns []standIn

// The stand-ins the cross-goroutine tests run on: a poller that blocks in
// its own system call and is woken through its descriptor, where pollers
// normally sleep in the runtime (park_runtime.go).
var wakeStandIns []standIn

// forEachDriverAnd runs fn like forEachDriver, then on each of standIns,
// unless EVENTCORE_DRIVER names the one driver to test.
func forEachDriverAnd(t *testing.T, standIns []standIn, fn func(t *testing.T, d *Driver)) {
	t.Helper()
	forEachDriver(t, fn)
	if os.Getenv("EVENTCORE_DRIVER") != "" {
		return
	}
	for _, s := range standIns {
		t.Run(s.name, func(t *testing.T) { testOn(t, s.new(t), fn) })
	}
}

// newTestDriver makes a driver for t, disposed of when t ends, however it
// ends: a test that fails before its Dispose leaves no worker running.
func newTestDriver(t *testing.T, name string, opts ...Option) *Driver {
	t.Helper()
	beforeDriver(t)
	d, err := New(append(opts, WithDriver(name))...)
	if err != nil {
		t.Fatalf("New(%q): %v", name, err)
	}
	t.Cleanup(func() { d.Dispose() })
	return d
}

// hangLimit only keeps a broken test from hanging: it is no timing
// assertion, and generous enough for a loaded 2-core machine.
const hangLimit = 20 * time.Second

// runUntil processes events until cond holds.
func runUntil(t *testing.T, d *Driver, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(hangLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		d.Core().ProcessEvents(10 * time.Millisecond)
	}
}

// runFor processes events for about dur, for tests that check that
// something does not happen.
func runFor(d *Driver, dur time.Duration) {
	end := time.Now().Add(dur)
	for time.Now().Before(end) {
		if d.Core().ProcessEvents(time.Until(end)) == ExitOutOfWaiters {
			time.Sleep(time.Millisecond)
		}
	}
}

// isAny reports whether err is one of targets.
func isAny(err error, targets []error) bool {
	for _, t := range targets {
		if errors.Is(err, t) {
			return true
		}
	}
	return false
}

// loopbackInterface returns the loopback interface, for multicast tests
// that must not leave the host.
func loopbackInterface(t *testing.T) *net.Interface {
	t.Helper()
	ifs, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	for i := range ifs {
		if ifs[i].Flags&(net.FlagLoopback|net.FlagUp) == net.FlagLoopback|net.FlagUp {
			return &ifs[i]
		}
	}
	t.Fatal("no loopback interface is up")
	return nil
}

// tempDir is t.TempDir, but removes what it made without os.RemoveAll,
// which fails under Wine 8 (Go's Windows implementation uses
// NtSetInformationFile(FileDispositionInformationEx), which Wine 8 lacks):
// it removes the tree entry by entry, deepest first.
// tempFile writes data to a file in a temporary directory removed when t
// ends, and returns its path.
func tempFile(t *testing.T, data []byte) string {
	t.Helper()
	path := filepath.Join(tempDir(t), "data")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func tempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "eventcore-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if os.RemoveAll(dir) == nil {
			return
		}
		var paths []string
		filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
			paths = append(paths, p)
			return nil
		})
		for i := len(paths) - 1; i >= 0; i-- {
			if err := os.Remove(paths[i]); err != nil && !os.IsNotExist(err) {
				t.Errorf("removing the test's temporary files: %v", err)
			}
		}
	})
	return dir
}

// sockOpt reads an on/off option of the driver's socket h, named as the
// driver names it (its level and number are the OS's).
func sockOpt(t *testing.T, d *Driver, h SocketHandle, o boolOpt) int {
	t.Helper()
	return sockOptRaw(t, d, h, boolOpts[o].level, boolOpts[o].opt)
}

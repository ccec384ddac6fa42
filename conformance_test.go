package eventcore

import (
	"os"
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

// The stand-ins the process and watcher tests run on besides the drivers,
// set where there are any.
var processStandIns, watcherStandIns []standIn

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

func newTestDriver(t *testing.T, name string, opts ...Option) *Driver {
	t.Helper()
	d, err := New(append(opts, WithDriver(name))...)
	if err != nil {
		t.Fatalf("New(%q): %v", name, err)
	}
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

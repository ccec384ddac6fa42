package eventcore

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Goroutine leak checks, without a dependency: after every driver test
// (forEachDriver) no goroutine of this package may be left, and when all
// tests are done no goroutine but the runtime's and os/signal's may be
// left.

func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if stray := waitForStrayGoroutines(func(g string) bool { return !benign(g) }); stray != "" {
			fmt.Fprintf(os.Stderr, "goroutines left after the tests:\n%s\n", stray)
			code = 1
		}
	}
	os.Exit(code)
}

// checkNoDriverGoroutines fails t if goroutines of this package (workers,
// signal forwarders) outlive their driver.
func checkNoDriverGoroutines(t *testing.T) {
	t.Helper()
	if stray := waitForStrayGoroutines(func(g string) bool {
		return strings.Contains(g, "eventcore.") && !strings.Contains(g, "eventcore.checkNoDriverGoroutines") &&
			!strings.Contains(g, "eventcore.forEachDriver") && !strings.Contains(g, "_test.go")
	}); stray != "" {
		t.Errorf("goroutines left after Dispose:\n%s", stray)
	}
}

// waitForStrayGoroutines returns the stacks of the goroutines, other than
// the caller's, that stray reports, once they stop changing or after
// hangLimit; "" when there are none.
func waitForStrayGoroutines(stray func(string) bool) string {
	deadline := time.Now().Add(hangLimit)
	buf := make([]byte, 64<<10)
	for {
		var found []string
		n := runtime.Stack(buf, true)
		for n == len(buf) { // truncated: try again with room to spare
			buf = make([]byte, 2*len(buf))
			n = runtime.Stack(buf, true)
		}
		for i, g := range strings.Split(string(buf[:n]), "\n\n") {
			if i > 0 && stray(g) { // the first is the caller's
				found = append(found, g)
			}
		}
		if len(found) == 0 {
			return ""
		}
		if time.Now().After(deadline) {
			return strings.Join(found, "\n\n")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// benign tells the goroutines that may outlive the tests: the runtime's
// own, and os/signal's watcher, which never ends once started.
func benign(g string) bool {
	for _, s := range []string{"os/signal.loop", "os/signal.signal_recv", "runtime.ensureSigM", "testing.runFuzzTests",
		"testing.(*M).startAlarm", "runtime.goexit"} {
		if strings.Contains(g, s) && !strings.Contains(g, "eventcore.") {
			return true
		}
	}
	return false
}

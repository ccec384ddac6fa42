package eventcore

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eventcore-go/eventcore/internal/leakcheck"
)

// Goroutine leak checks (internal/leakcheck): after every driver test
// (testOn) no goroutine of this package that the test started may be left,
// and when all tests are done no goroutine but the runtime's and
// os/signal's may be left.

func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if stray := leakcheck.Wait(hangLimit, func(g string) bool { return !benign(g) }); stray != "" {
			fmt.Fprintf(os.Stderr, "goroutines left after the tests:\n%s\n", stray)
			code = 1
		}
	}
	os.Exit(code)
}

// testBaselines maps each running test (or fuzz input) that has made a
// driver to the goroutines there were before it made its first: what an
// earlier test left, even one that failed, is not this one's leak.
var testBaselines sync.Map // testing.TB → map[uint64]bool

// beforeDriver records, the first time test t makes a driver, which
// goroutines there are. Every driver made for a test calls it first
// (newTestDriver, the stand-ins).
func beforeDriver(t testing.TB) {
	if _, had := testBaselines.LoadOrStore(t, leakcheck.Goroutines()); !had {
		t.Cleanup(func() { testBaselines.Delete(t) })
	}
}

// checkNoDriverGoroutines fails t if goroutines of this package (workers,
// signal forwarders) that started since t made its first driver outlive
// its drivers.
func checkNoDriverGoroutines(t *testing.T) {
	t.Helper()
	before, ok := testBaselines.Load(t)
	if !ok {
		t.Fatal("checkNoDriverGoroutines: this test made no driver through newTestDriver or a stand-in")
	}
	if stray := driverGoroutinesSince(before.(map[uint64]bool), hangLimit); stray != "" {
		t.Errorf("goroutines left after Dispose:\n%s", stray)
	}
}

// driverGoroutinesSince returns the stacks of the goroutines of this
// package, not of the tests, that are not among before, once they stop
// changing or after limit; "" when there are none.
func driverGoroutinesSince(before map[uint64]bool, limit time.Duration) string {
	return leakcheck.Stray(before, "eventcore.", limit)
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

// The check reports a goroutine of this package that started after its
// baseline and is still there, and not one that was there before: an
// earlier test's leak is not the current test's.
func TestGoroutineCheck(t *testing.T) {
	// A driver's worker starts with its first job and parks, idle, until
	// Dispose.
	withWorker := func() *Driver {
		d := newTestDriver(t, testDrivers(t)[0])
		done := false
		d.DNS().LookupHost("localhost", func(DNSLookupID, DNSStatus, []Addr) { done = true })
		runUntil(t, d, "the lookup", func() bool { return done })
		return d
	}
	older := withWorker()
	before := leakcheck.Goroutines()
	if stray := driverGoroutinesSince(before, 0); stray != "" {
		t.Fatalf("goroutines there before the baseline reported:\n%s", stray)
	}
	leaky := withWorker()
	// limit 0: the worker is parked until Dispose, so it is there however
	// long the check would wait.
	if stray := driverGoroutinesSince(before, 0); stray == "" {
		t.Fatal("a worker left running was not reported")
	} else if strings.Contains(stray, "TestGoroutineCheck") {
		t.Fatalf("the caller's goroutine reported:\n%s", stray)
	}
	leaky.Dispose()
	if stray := driverGoroutinesSince(before, hangLimit); stray != "" {
		t.Fatalf("goroutines reported after Dispose ended them:\n%s", stray)
	}
	older.Dispose()
}

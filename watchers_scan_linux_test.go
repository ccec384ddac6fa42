package eventcore

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The snapshot watcher's fallbacks, on the kqueue stand-in
// (standin_linux_test.go), whose vnodes can be refused as the kernel would.

// scanWatcher returns the snapshot state of watcher id.
func scanWatcher(t *testing.T, d *Driver, id WatcherID) *scanWatch {
	t.Helper()
	e := d.l.watchers.get(id.h, kindWatcher)
	if e == nil || e.v.scan == nil {
		t.Fatal("not a snapshot watcher")
	}
	return e.v.scan
}

// The driver's poll timer is its own: no waiter beyond the watcher, no
// handle in OpenHandles, gone with the last polled directory.
func checkPollTimer(t *testing.T, d *Driver, polled int) {
	t.Helper()
	if d.l.polled != polled || (polled > 0) != (d.l.pollTimer != TimerID{}) {
		t.Fatalf("%d directories polled, timer %v; want %d", d.l.polled, d.l.pollTimer, polled)
	}
	if polled > 0 && d.l.timers.live != 1 || polled == 0 && d.l.timers.live != 0 {
		t.Fatalf("%d timers live with %d directories polled", d.l.timers.live, polled)
	}
	for _, h := range d.OpenHandles() {
		if h.Kind == "TimerID" {
			t.Fatalf("the poll timer is in OpenHandles: %+v", d.OpenHandles())
		}
	}
}

// Out of descriptors, a watcher gives its vnodes back and polls; it goes on
// reporting every kind of change.
func TestWatcherOutOfDescriptorsPolls(t *testing.T) {
	checkNoFDLeak(t)
	d, s := newKqStandIn(t)
	testOn(t, d, func(t *testing.T, d *Driver) {
		dir := t.TempDir()
		for _, name := range []string{"a", "b", "c"} {
			os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o644)
		}
		os.Mkdir(filepath.Join(dir, "sub"), 0o755)
		vnodes := 0
		s.failVnode = func(string) error {
			if vnodes++; vnodes > 2 { // the base and one file
				return syscall.EMFILE
			}
			return nil
		}
		id, log := watch(t, d, dir, true)
		if !scanWatcher(t, d, id).noVnodes || len(s.vnodes) != 0 {
			t.Fatalf("out of descriptors: still %d vnodes watched", len(s.vnodes))
		}
		checkPollTimer(t, d, 2) // the base and sub
		if d.Core().WaiterCount() != 1 {
			t.Fatalf("WaiterCount %d with one watcher", d.Core().WaiterCount())
		}
		os.WriteFile(filepath.Join(dir, "a"), []byte("longer"), 0o644)
		waitChange(t, d, log, FileChangeModified, "", "a")
		os.WriteFile(filepath.Join(dir, "sub", "new"), nil, 0o644)
		waitChange(t, d, log, FileChangeAdded, "sub", "new")
		os.Remove(filepath.Join(dir, "b"))
		waitChange(t, d, log, FileChangeRemoved, "", "b")
		os.Mkdir(filepath.Join(dir, "later"), 0o755)
		waitChange(t, d, log, FileChangeAdded, "", "later")
		checkPollTimer(t, d, 3)
		if len(s.vnodes) != 0 {
			t.Fatal("a polling watcher took a vnode")
		}
		d.Watchers().ReleaseRef(id)
		checkPollTimer(t, d, 0)
		if d.Core().WaiterCount() != 0 || d.Core().ProcessEvents(time.Second) != ExitOutOfWaiters {
			t.Fatal("waiters left after the release")
		}
	})
}

// A file whose vnode cannot be watched (say, unreadable where there is no
// O_EVTONLY) puts its directory on the timer; the rest keeps its vnodes.
func TestWatcherUnwatchableFilePollsItsDirectory(t *testing.T) {
	checkNoFDLeak(t)
	d, s := newKqStandIn(t)
	testOn(t, d, func(t *testing.T, d *Driver) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "secret"), []byte("x"), 0o644)
		os.WriteFile(filepath.Join(dir, "open"), []byte("x"), 0o644)
		s.failVnode = func(path string) error {
			if strings.HasSuffix(path, "/secret") {
				return syscall.EACCES
			}
			return nil
		}
		id, log := watch(t, d, dir, false)
		if len(s.vnodes) != 2 || scanWatcher(t, d, id).noVnodes {
			t.Fatalf("%d vnodes watched, want the directory and open", len(s.vnodes))
		}
		checkPollTimer(t, d, 1)
		os.WriteFile(filepath.Join(dir, "secret"), []byte("changed"), 0o644)
		waitChange(t, d, log, FileChangeModified, "", "secret")
		os.WriteFile(filepath.Join(dir, "open"), []byte("changed"), 0o644)
		waitChange(t, d, log, FileChangeModified, "", "open")
		d.Watchers().ReleaseRef(id)
		checkPollTimer(t, d, 0)
		if len(s.vnodes) != 0 {
			t.Fatalf("%d vnodes left after the release", len(s.vnodes))
		}
	})
}

// Without vnodes every directory is polled, on one timer of the driver's.
func TestWatcherPollingTimer(t *testing.T) {
	checkNoFDLeak(t)
	for _, si := range watcherStandIns {
		if si.name != "polling-watchers" {
			continue
		}
		testOn(t, si.new(t), func(t *testing.T, d *Driver) {
			a, b := t.TempDir(), t.TempDir()
			os.Mkdir(filepath.Join(a, "sub"), 0o755)
			ida, loga := watch(t, d, a, true)
			idb, logb := watch(t, d, b, false)
			checkPollTimer(t, d, 3)
			if d.Core().WaiterCount() != 2 {
				t.Fatalf("WaiterCount %d with two watchers", d.Core().WaiterCount())
			}
			os.WriteFile(filepath.Join(a, "sub", "f"), nil, 0o644)
			os.WriteFile(filepath.Join(b, "f"), nil, 0o644)
			waitChange(t, d, loga, FileChangeAdded, "sub", "f")
			waitChange(t, d, logb, FileChangeAdded, "", "f")
			d.Watchers().ReleaseRef(ida)
			checkPollTimer(t, d, 1)
			d.Watchers().ReleaseRef(idb)
			checkPollTimer(t, d, 0)
		})
	}
}

// A child that has exited and awaits reaping can be adopted, with its exit
// code. kqueue refuses to watch such a process (ESRCH), as the stand-in
// does: the driver then collects the code at once.
func TestProcessAdoptExitedChild(t *testing.T) {
	checkNoFDLeak(t)
	forEachDriverAnd(t, processStandIns, func(t *testing.T, d *Driver) {
		pr := d.Processes()
		pid, err := syscall.ForkExec("/bin/sh", []string{"sh", "-c", "exit 5"}, &syscall.ProcAttr{})
		if err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(hangLimit)
		for !isZombie(pid) {
			if time.Now().After(deadline) {
				t.Fatal("the child did not exit")
			}
			time.Sleep(time.Millisecond)
		}
		id, err := pr.Adopt(pid)
		if err != nil {
			t.Fatal(err)
		}
		if d.Name() == "kqueue-standin" && !pr.HasExited(id) {
			t.Fatal("refused by the poller, the exited child was not collected at once")
		}
		code := -100
		pr.Wait(id, func(_ ProcessID, c int) { code = c })
		runUntil(t, d, "the adopted child's exit", func() bool { return code != -100 })
		if code != 5 || !pr.HasExited(id) {
			t.Fatalf("adopted exited child: exit code %d, HasExited %v", code, pr.HasExited(id))
		}
		pr.ReleaseRef(id)
		if _, err := pr.Adopt(pid); !errors.Is(err, syscall.ESRCH) {
			t.Fatalf("adopting a reaped process: %v, want ESRCH", err)
		}
	})
}

package eventcore

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
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
	if d.l.polled != polled || (polled > 0) != (d.l.pollTimer != 0) {
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
	testOn(t, newPollingStandIn(t), func(t *testing.T, d *Driver) {
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

// A child that has exited and awaits reaping can be adopted, with its exit
// code. kqueue refuses to watch such a process (ESRCH), as the stand-in
// does: the driver then collects the code at once.
func TestProcessAdoptExitedChild(t *testing.T) {
	checkNoFDLeak(t)
	forEachDriverAnd(t, processStandIns, func(t *testing.T, d *Driver) {
		pr := d.Processes()
		pid := forkSh(t, "exit 5")
		waitZombie(t, pid)
		id := mustAdopt(t, d, pid)
		if d.Name() == "kqueue-standin" && !pr.HasExited(id) {
			t.Fatal("refused by the poller, the exited child was not collected at once")
		}
		if code := waitExitCode(t, d, id); code != 5 || !pr.HasExited(id) {
			t.Fatalf("adopted exited child: exit code %d, HasExited %v", code, pr.HasExited(id))
		}
		pr.ReleaseRef(id)
		if _, err := pr.Adopt(pid); !errors.Is(err, syscall.ESRCH) {
			t.Fatalf("adopting a reaped process: %v, want ESRCH", err)
		}
	})
}

// A child the poller refuses (ESRCH) before wait4 can collect it, as macOS
// does while the child is on its way out, is watched through SIGCHLD; so is
// one released meanwhile, until it is reaped.
func TestProcessRefusedBeforeCollectable(t *testing.T) {
	checkNoFDLeak(t)
	d, s := newKqStandIn(t)
	testOn(t, d, func(t *testing.T, d *Driver) {
		s.refuseExit = func(int) error { return syscall.ESRCH }
		pr := d.Processes()
		// Each child runs until its standard input closes: it is still
		// running when the watch starts, however slow the machine.
		spawn := func(script string) Process {
			proc, err := pr.Spawn([]string{"sh", "-c", "read line; " + script}, RedirectPipe, RedirectNone, RedirectNone, nil, 0, "")
			if err != nil {
				t.Fatalf("Spawn, refused by the poller: %v", err)
			}
			if e := d.l.procs.get(proc.ID.h, kindProcess); e.v.sys.watch.via != viaSIGCHLD {
				t.Fatalf("refused, the running child is watched through %v", e.v.sys.watch.via)
			}
			return proc
		}
		proc := spawn("exit 3")
		d.Pipes().ReleaseRef(proc.Stdin)
		if code := waitExitCode(t, d, proc.ID); code != 3 {
			t.Fatalf("exit code %d, want 3", code)
		}
		pr.ReleaseRef(proc.ID)

		orphan := spawn("exit 0")
		pid := pr.PID(orphan.ID)
		pr.ReleaseRef(orphan.ID)
		d.Pipes().ReleaseRef(orphan.Stdin)
		waitOrphansReaped(t, d, pid)
		if len(s.pidfds) != 0 || d.l.sigchldUsers != 0 || len(d.l.signalRefs) != 0 {
			t.Fatal("a process is still watched")
		}
	})
}

// A child reaped by other means before the poller is asked about it (which
// then refuses it) has exited, its code unknown: Spawn does not fail.
func TestProcessRefusedReapedElsewhere(t *testing.T) {
	checkNoFDLeak(t)
	d, s := newKqStandIn(t)
	testOn(t, d, func(t *testing.T, d *Driver) {
		s.refuseExit = func(pid int) error {
			syscall.Kill(pid, syscall.SIGKILL)
			var ws syscall.WaitStatus
			syscall.Wait4(pid, &ws, 0, nil)
			return syscall.ESRCH
		}
		pr := d.Processes()
		// The child runs until refuseExit ends and reaps it: one already a
		// zombie when the watch starts would be refused at once and reaped
		// by the loop, with its code.
		proc, err := pr.Spawn([]string{"sleep", "60"}, RedirectNone, RedirectNone, RedirectNone, nil, 0, "")
		if err != nil {
			t.Fatalf("Spawn of a child reaped elsewhere: %v", err)
		}
		if !pr.HasExited(proc.ID) {
			t.Fatal("a child reaped elsewhere has not exited")
		}
		code := -100
		pr.Wait(proc.ID, func(_ ProcessID, c int) { code = c })
		if code != ExitCodeUnknown {
			t.Fatalf("exit code %d, want ExitCodeUnknown", code)
		}
		pr.ReleaseRef(proc.ID)
	})
}

// A process that has exited and awaits reaping by another parent can be
// adopted: it has exited, its code unknown (the status is its parent's).
// kqueue refuses it (ESRCH); a pidfd reports it at once.
func TestProcessAdoptForeignZombie(t *testing.T) {
	checkNoFDLeak(t)
	forEachDriverAnd(t, processStandIns, func(t *testing.T, d *Driver) {
		pid := foreignChild(t)
		waitZombie(t, pid)
		pr := d.Processes()
		id := mustAdopt(t, d, pid)
		if code := waitExitCode(t, d, id); code != ExitCodeUnknown || !pr.HasExited(id) {
			t.Fatalf("exit code %d, HasExited %v; want ExitCodeUnknown", code, pr.HasExited(id))
		}
		pr.ReleaseRef(id)
	})
}

// hogFDs takes every descriptor this process may still open but spare, so
// that the open after those fails with EMFILE. The returned function gives
// them back and restores the limit; so does the test's end, if it is not
// called.
func hogFDs(t *testing.T, spare int) (free func()) {
	t.Helper()
	var old unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &old); err != nil {
		t.Fatal(err)
	}
	lim := old
	lim.Cur = uint64(openFDs(t) + 16)
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	var held []int
	for {
		fd, err := unix.Dup(0)
		if err != nil {
			break
		}
		held = append(held, fd)
	}
	for ; spare > 0 && len(held) > 0; spare-- {
		unix.Close(held[len(held)-1])
		held = held[:len(held)-1]
	}
	free = func() {
		for _, fd := range held {
			unix.Close(fd)
		}
		held = nil
		unix.Setrlimit(unix.RLIMIT_NOFILE, &old)
	}
	t.Cleanup(free)
	return free
}

// A sub-directory that is there but cannot be read when it is added (here,
// out of descriptors just after its vnode is taken) is polled from an
// empty snapshot: once it can be read, what it holds is reported as added.
func TestWatcherUnreadableSubdirectoryPolled(t *testing.T) {
	checkNoFDLeak(t)
	d, s := newKqStandIn(t)
	testOn(t, d, func(t *testing.T, d *Driver) {
		dir := t.TempDir()
		os.Mkdir(filepath.Join(dir, "sub"), 0o755)
		os.WriteFile(filepath.Join(dir, "sub", "old"), nil, 0o644)
		var free func()
		s.failVnode = func(path string) error {
			if strings.HasSuffix(path, "/sub") && free == nil {
				free = hogFDs(t, 1) // the vnode's
			}
			return nil
		}
		id, log := watch(t, d, dir, true)
		if free == nil {
			t.Fatal("the sub-directory's vnode was not asked for")
		}
		free()
		if _, ok := scanWatcher(t, d, id).dirs["sub"]; !ok {
			t.Fatal("the unreadable sub-directory is not watched")
		}
		if len(s.vnodes) != 2 {
			t.Fatalf("%d vnodes watched, want the base and sub", len(s.vnodes))
		}
		checkPollTimer(t, d, 1)
		waitChange(t, d, log, FileChangeAdded, "sub", "old")
		os.WriteFile(filepath.Join(dir, "sub", "new"), nil, 0o644)
		waitChange(t, d, log, FileChangeAdded, "sub", "new")
		d.Watchers().ReleaseRef(id)
		checkPollTimer(t, d, 0)
	})
}

// A directory that cannot be read when it is rescanned (out of
// descriptors), but is still there, is not taken for gone: it is read
// again on the timer, which finds what changed meanwhile.
func TestWatcherUnreadableDirectoryRetried(t *testing.T) {
	checkNoFDLeak(t)
	for _, si := range watcherStandIns {
		t.Run(si.name, func(t *testing.T) {
			testOn(t, si.new(t), func(t *testing.T, d *Driver) {
				dir := t.TempDir()
				id, log := watch(t, d, dir, false)
				free := hogFDs(t, 0)
				os.Mkdir(filepath.Join(dir, "new"), 0o755) // no descriptor needed
				runUntil(t, d, "the directory to be polled", func() bool { return d.l.polled == 1 })
				runFor(d, 10*testPollEvery) // rescans that fail
				free()
				if e := d.l.watchers.get(id.h, kindWatcher); len(log.changes) != 0 || e.v.ended {
					t.Fatalf("out of descriptors, the watcher reported %v", log)
				}
				waitChange(t, d, log, FileChangeAdded, "", "new")
				d.Watchers().ReleaseRef(id)
				checkPollTimer(t, d, 0)
			})
		})
	}
}

// The poll timer's ticks are no events of the user's: ProcessEvents goes on
// through ticks that find nothing, and returns ExitIdle after one that
// reports a change.
func TestWatcherPollTickEndsProcessEventsOnlyWithChanges(t *testing.T) {
	checkNoFDLeak(t)
	testOn(t, newPollingStandIn(t), func(t *testing.T, d *Driver) {
		dir := t.TempDir()
		id, log := watch(t, d, dir, false)
		if r := d.Core().ProcessEvents(10 * testPollEvery); r != ExitTimeout {
			t.Fatalf("ticks with nothing changed: ProcessEvents returned %v", r)
		}
		os.WriteFile(filepath.Join(dir, "f"), nil, 0o644)
		if r := d.Core().ProcessEvents(hangLimit); r != ExitIdle || !log.has(FileChangeAdded, "", "f") {
			t.Fatalf("a tick that reported %v: ProcessEvents returned %v", log, r)
		}
		d.Watchers().ReleaseRef(id)
	})
}

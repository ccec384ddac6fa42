package eventcore

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// overflowInotify makes more changes in dir than the kernel queues for an
// inotify instance, while the loop does not read, so that the queue
// overflows; then it calls during, whose changes the kernel drops, and
// makes a few more changes. It skips the test where the limit is unknown.
func overflowInotify(t *testing.T, dir string, during func()) {
	t.Helper()
	raw, err := os.ReadFile("/proc/sys/fs/inotify/max_queued_events")
	limit, err2 := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil || err2 != nil || limit > 1<<20 {
		t.Skipf("inotify queue limit unknown or too large: %q", raw)
	}
	// Writes alternating between two files are not coalesced.
	var files [2]*os.File
	for i := range files {
		f, err := os.Create(filepath.Join(dir, "f"+strconv.Itoa(i)))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		files[i] = f
	}
	write := func(n int) {
		for i := range n {
			if _, err := files[i%2].Write([]byte{'x'}); err != nil {
				t.Fatal(err)
			}
		}
	}
	write(limit + 100)
	during()
	write(100)
}

// overflowLog is a changeLog for overflowInotify's watchers: it leaves out
// the writes that fill the queue.
func overflowLog(extra func(ch FileChange)) (*changeLog, FileChangesCallback) {
	log := &changeLog{}
	return log, func(id WatcherID, ch FileChange) {
		if ch.Kind == FileChangeModified && ch.Directory == "" && (ch.Name == "f0" || ch.Name == "f1") {
			return
		}
		log.cb(id, ch)
		if extra != nil {
			extra(ch)
		}
	}
}

// More changes than the kernel queues, made while the loop does not read:
// the overflow must be reported, not hidden.
func TestWatcherOverflowReported(t *testing.T) {
	checkNoFDLeak(t)
	forEachDriver(t, func(t *testing.T, d *Driver) {
		dir := tempDir(t)
		log, cb := overflowLog(nil)
		id, err := d.Watchers().WatchDirectory(dir, false, cb)
		if err != nil {
			t.Fatal(err)
		}
		overflowInotify(t, dir, func() {})
		runUntil(t, d, "overflow", log.sawOverflow)
		// The watcher goes on working.
		os.WriteFile(filepath.Join(dir, "after"), nil, 0o644)
		waitChange(t, d, log, FileChangeAdded, "", "after")
		d.Watchers().ReleaseRef(id)
	})
}

// Directories created while the kernel drops events are watched once the
// overflow is known, before the callback hears of it, so that what the
// callback reads then and what is reported after make the whole tree; the
// watches of directories removed meanwhile are dropped.
func TestWatcherOverflowRescansTree(t *testing.T) {
	checkNoFDLeak(t)
	forEachDriver(t, func(t *testing.T, d *Driver) {
		dir := tempDir(t)
		os.MkdirAll(filepath.Join(dir, "old", "deep"), 0o755)
		os.MkdirAll(filepath.Join(dir, "replaced", "inner"), 0o755)
		log, cb := overflowLog(func(ch FileChange) {
			if ch.Kind == FileChangeOverflow {
				// Made when the callback rereads the tree: reported.
				os.WriteFile(filepath.Join(dir, "new", "deeper", "in-callback"), nil, 0o644)
			}
		})
		id, err := d.Watchers().WatchDirectory(dir, true, cb)
		if err != nil {
			t.Fatal(err)
		}
		overflowInotify(t, dir, func() {
			if err := os.MkdirAll(filepath.Join(dir, "new", "deeper"), 0o755); err != nil {
				t.Fatal(err)
			}
			os.RemoveAll(filepath.Join(dir, "old"))
			// Another directory under a watched one's name.
			os.RemoveAll(filepath.Join(dir, "replaced"))
			os.MkdirAll(filepath.Join(dir, "replaced", "other"), 0o755)
		})
		runUntil(t, d, "overflow", log.sawOverflow)
		os.WriteFile(filepath.Join(dir, "new", "after"), nil, 0o644)
		os.WriteFile(filepath.Join(dir, "replaced", "other", "after"), nil, 0o644)
		waitChange(t, d, log, FileChangeAdded, "new/deeper", "in-callback")
		waitChange(t, d, log, FileChangeAdded, "new", "after")
		waitChange(t, d, log, FileChangeAdded, "replaced/other", "after")
		e := d.l.watchers.get(id.h, kindWatcher)
		for _, gone := range []string{"old", "old/deep", "replaced/inner"} {
			if _, ok := e.v.wds[gone]; ok {
				t.Errorf("the watch of %s, removed during the overflow, is kept", gone)
			}
		}
		uses := 0
		for _, users := range d.l.inotify.wdUsers {
			uses += len(users)
		}
		if uses != len(e.v.wds) {
			t.Errorf("%d uses of watches for the %d directories watched", uses, len(e.v.wds))
		}
		d.Watchers().ReleaseRef(id)
		if d.l.inotify != nil {
			t.Errorf("the inotify instance is left after the last watcher's release, with watches %v", d.l.inotify.wdUsers)
		}
	})
}

// A watched directory moved away while the kernel drops events (its own
// event with them) is found gone once the overflow is known: the watcher
// ends, as when its move is reported.
func TestWatcherOverflowBaseMoved(t *testing.T) {
	checkNoFDLeak(t)
	forEachDriver(t, func(t *testing.T, d *Driver) {
		for _, recursive := range []bool{false, true} {
			parent := tempDir(t)
			dir := filepath.Join(parent, "watched")
			os.Mkdir(dir, 0o755)
			log, cb := overflowLog(nil)
			id, err := d.Watchers().WatchDirectory(dir, recursive, cb)
			if err != nil {
				t.Fatal(err)
			}
			overflowInotify(t, dir, func() {
				os.Rename(dir, filepath.Join(parent, "elsewhere"))
				os.Mkdir(dir, 0o755)
			})
			waitChange(t, d, log, FileChangeRemoved, "", "")
			if d.Core().WaiterCount() != 0 {
				t.Fatalf("recursive %v: the watcher of a directory moved during an overflow still counts as a waiter", recursive)
			}
			d.Watchers().ReleaseRef(id)
		}
	})
}

// A recursive watcher whose tree outgrows the system's limit on inotify
// watches turns into a snapshot watcher, reporting an overflow: the
// directory it could not watch is followed all the same.
func TestWatcherOutOfWatchesTurnsToSnapshots(t *testing.T) {
	checkNoFDLeak(t)
	forEachDriver(t, func(t *testing.T, d *Driver) {
		d.l.pollEvery = testPollEvery
		dir := tempDir(t)
		d.l.failWatch = func(path string) error {
			if filepath.Base(path) == "full" {
				return syscall.ENOSPC
			}
			return nil
		}
		other := tempDir(t)
		oid, olog := watch(t, d, other, false)
		id, log := watch(t, d, dir, true)
		os.Mkdir(filepath.Join(dir, "full"), 0o755)
		runUntil(t, d, "overflow", log.sawOverflow)
		e := d.l.watchers.get(id.h, kindWatcher)
		if e.v.scan == nil || e.v.wds != nil {
			t.Fatal("out of watches, the watcher still uses inotify")
		}
		os.WriteFile(filepath.Join(dir, "full", "f"), nil, 0o644)
		waitChange(t, d, log, FileChangeAdded, "full", "f")
		// The other watcher keeps inotify.
		os.WriteFile(filepath.Join(other, "f"), nil, 0o644)
		waitChange(t, d, olog, FileChangeAdded, "", "f")
		if len(d.l.inotify.wdUsers) != 1 || olog.sawOverflow() {
			t.Fatalf("the other watcher: %d watches, %v", len(d.l.inotify.wdUsers), olog)
		}
		d.Watchers().ReleaseRef(id)
		d.Watchers().ReleaseRef(oid)
		if d.l.inotify != nil || d.l.polled != 0 {
			t.Fatal("watches left after the last release")
		}
	})
}

// A directory created in a recursive watcher's tree that cannot be watched
// (no permission to read it: simulated, since the tests may run as root)
// is watched once its attributes change and it can be.
func TestWatcherUnwatchableDirectoryRetried(t *testing.T) {
	checkNoFDLeak(t)
	forEachDriver(t, func(t *testing.T, d *Driver) {
		dir := tempDir(t)
		locked := true
		d.l.failWatch = func(path string) error {
			if locked && filepath.Base(path) == "locked" {
				return syscall.EACCES
			}
			return nil
		}
		id, log := watch(t, d, dir, true)
		os.Mkdir(filepath.Join(dir, "locked"), 0o700)
		waitChange(t, d, log, FileChangeAdded, "", "locked")
		os.WriteFile(filepath.Join(dir, "locked", "early"), nil, 0o644)
		locked = false
		os.Chmod(filepath.Join(dir, "locked"), 0o755)
		waitChange(t, d, log, FileChangeModified, "", "locked")
		waitChange(t, d, log, FileChangeAdded, "locked", "early")
		os.WriteFile(filepath.Join(dir, "locked", "late"), nil, 0o644)
		waitChange(t, d, log, FileChangeAdded, "locked", "late")
		d.Watchers().ReleaseRef(id)
	})
}

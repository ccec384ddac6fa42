package eventcore

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

type changeLog struct {
	changes []FileChange
}

func (c *changeLog) cb(_ WatcherID, ch FileChange) { c.changes = append(c.changes, ch) }

// has reports whether a change of kind k to dir/name was seen.
func (c *changeLog) has(k FileChangeKind, dir, name string) bool {
	for _, ch := range c.changes {
		if ch.Kind == k && ch.Directory == dir && ch.Name == name {
			return true
		}
	}
	return false
}

func (c *changeLog) String() string { return fmt.Sprintf("%+v", c.changes) }

func watch(t *testing.T, d *Driver, dir string, recursive bool) (WatcherID, *changeLog) {
	t.Helper()
	log := &changeLog{}
	id, err := d.Watchers().WatchDirectory(dir, recursive, log.cb)
	if err != nil {
		t.Fatalf("WatchDirectory(%s): %v", dir, err)
	}
	return id, log
}

func waitChange(t *testing.T, d *Driver, log *changeLog, k FileChangeKind, dir, name string) {
	t.Helper()
	runUntil(t, d, fmt.Sprintf("%v %s/%s (seen %v)", k, dir, name, log), func() bool { return log.has(k, dir, name) })
}

func TestWatcherChanges(t *testing.T) {
	checkNoFDLeak(t)
	forEachDriverAnd(t, watcherStandIns, func(t *testing.T, d *Driver) {
		dir := tempDir(t)
		id, log := watch(t, d, dir, false)
		if d.Core().WaiterCount() != 1 {
			t.Fatal("a watcher is not counted as a waiter")
		}
		f := filepath.Join(dir, "file")
		os.WriteFile(f, []byte("one"), 0o644)
		waitChange(t, d, log, FileChangeAdded, "", "file")
		os.WriteFile(f, []byte("two"), 0o644)
		waitChange(t, d, log, FileChangeModified, "", "file")
		os.Rename(f, filepath.Join(dir, "renamed"))
		waitChange(t, d, log, FileChangeRemoved, "", "file")
		waitChange(t, d, log, FileChangeAdded, "", "renamed")
		os.Remove(filepath.Join(dir, "renamed"))
		waitChange(t, d, log, FileChangeRemoved, "", "renamed")
		os.Mkdir(filepath.Join(dir, "sub"), 0o755)
		waitChange(t, d, log, FileChangeAdded, "", "sub")
		for _, c := range log.changes {
			if c.BaseDirectory != dir || (c.Name == "sub") != c.IsDirectory {
				t.Errorf("change %+v", c)
			}
		}
		// Not recursive: changes inside sub are not reported.
		os.WriteFile(filepath.Join(dir, "sub", "inner"), nil, 0o644)
		os.WriteFile(filepath.Join(dir, "marker"), nil, 0o644)
		waitChange(t, d, log, FileChangeAdded, "", "marker")
		if log.has(FileChangeAdded, "sub", "inner") {
			t.Error("a non-recursive watcher reported a change in a sub-directory")
		}
		if d.Watchers().ReleaseRef(id) || d.Core().WaiterCount() != 0 {
			t.Fatal("release")
		}
	})
}

func TestWatcherRecursive(t *testing.T) {
	checkNoFDLeak(t)
	forEachDriverAnd(t, watcherStandIns, func(t *testing.T, d *Driver) {
		dir := tempDir(t)
		os.MkdirAll(filepath.Join(dir, "old", "deep"), 0o755)
		skipUnderWine(t, "Wine 8's ReadDirectoryChangesW ignores bWatchSubtree: changes in sub-directories are not reported")
		id, log := watch(t, d, dir, true)
		os.WriteFile(filepath.Join(dir, "old", "deep", "f"), nil, 0o644)
		waitChange(t, d, log, FileChangeAdded, "old/deep", "f")
		// A directory created after the watch began is followed, and what
		// was made in it before its own watch started is reported too.
		os.MkdirAll(filepath.Join(dir, "new", "nested"), 0o755)
		os.WriteFile(filepath.Join(dir, "new", "early"), nil, 0o644)
		waitChange(t, d, log, FileChangeAdded, "", "new")
		waitChange(t, d, log, FileChangeAdded, "new", "early")
		waitChange(t, d, log, FileChangeAdded, "new", "nested")
		os.WriteFile(filepath.Join(dir, "new", "nested", "late"), nil, 0o644)
		waitChange(t, d, log, FileChangeAdded, "new/nested", "late")
		// A directory moved within the tree is watched under its new name.
		os.Rename(filepath.Join(dir, "new"), filepath.Join(dir, "moved"))
		waitChange(t, d, log, FileChangeRemoved, "", "new")
		waitChange(t, d, log, FileChangeAdded, "", "moved")
		os.WriteFile(filepath.Join(dir, "moved", "nested", "after"), nil, 0o644)
		waitChange(t, d, log, FileChangeAdded, "moved/nested", "after")
		os.RemoveAll(filepath.Join(dir, "old"))
		waitChange(t, d, log, FileChangeRemoved, "", "old")
		d.Watchers().ReleaseRef(id)
	})
}

func TestWatcherBurst(t *testing.T) {
	checkNoFDLeak(t)
	forEachDriverAnd(t, watcherStandIns, func(t *testing.T, d *Driver) {
		dir := tempDir(t)
		id, log := watch(t, d, dir, false)
		const n = 1000
		for i := range n {
			os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%04d", i)), nil, 0o644)
		}
		seen := map[string]bool{}
		runUntil(t, d, "1000 files", func() bool {
			for _, c := range log.changes {
				if c.Kind == FileChangeAdded {
					seen[c.Name] = true
				}
			}
			log.changes = log.changes[:0]
			return len(seen) == n
		})
		d.Watchers().ReleaseRef(id)
	})
}

func TestWatcherBaseRemoved(t *testing.T) {
	checkNoFDLeak(t)
	forEachDriverAnd(t, watcherStandIns, func(t *testing.T, d *Driver) {
		dir := filepath.Join(tempDir(t), "watched")
		os.Mkdir(dir, 0o755)
		id, log := watch(t, d, dir, true)
		os.Remove(dir)
		if _, err := os.Stat(dir); err == nil {
			d.Watchers().ReleaseRef(id)
			skipUnderWine(t, "Wine 8 has no POSIX delete semantics (NtSetInformationFile(FileDispositionInformationEx)): "+
				"the watcher's open handle keeps the removed directory until it is closed, so there is no removal to report")
			t.Fatal("the removed directory is still there")
		}
		waitChange(t, d, log, FileChangeRemoved, "", "")
		if d.Core().WaiterCount() != 0 {
			t.Fatal("the watcher of a deleted directory still counts as a waiter")
		}
		if d.l.header(id.h) == nil {
			t.Fatal("an ended watcher's handle is invalid before its release")
		}
		if d.Watchers().ReleaseRef(id) {
			t.Fatal("the last release left the watcher alive")
		}
		if _, err := d.Watchers().WatchDirectory(dir, false, log.cb); err == nil {
			t.Fatal("watching a missing directory succeeded")
		}
	})
}

func TestWatcherBaseMoved(t *testing.T) {
	checkNoFDLeak(t)
	forEachDriverAnd(t, watcherStandIns, func(t *testing.T, d *Driver) {
		parent := tempDir(t)
		dir := filepath.Join(parent, "watched")
		os.Mkdir(dir, 0o755)
		id, log := watch(t, d, dir, false)
		os.Rename(dir, filepath.Join(parent, "elsewhere"))
		// Another directory at the old path is not the one watched.
		os.Mkdir(dir, 0o755)
		waitChange(t, d, log, FileChangeRemoved, "", "")
		if d.Core().WaiterCount() != 0 {
			t.Fatal("the watcher of a moved directory still counts as a waiter")
		}
		d.Watchers().ReleaseRef(id)
	})
}

func TestWatcherAttributes(t *testing.T) {
	checkNoFDLeak(t)
	forEachDriverAnd(t, watcherStandIns, func(t *testing.T, d *Driver) {
		dir := tempDir(t)
		f := filepath.Join(dir, "file")
		os.WriteFile(f, nil, 0o644)
		os.Mkdir(filepath.Join(dir, "sub"), 0o755)
		id, log := watch(t, d, dir, true)
		os.Chmod(f, 0o600)
		waitChange(t, d, log, FileChangeModified, "", "file")
		os.Chmod(filepath.Join(dir, "sub"), 0o700)
		waitChange(t, d, log, FileChangeModified, "", "sub")
		for _, c := range log.changes {
			if c.Kind != FileChangeModified || (c.Name == "sub") != c.IsDirectory {
				t.Errorf("change %+v", c)
			}
		}
		d.Watchers().ReleaseRef(id)
	})
}

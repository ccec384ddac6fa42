package eventcore

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// symlink makes a symbolic link at link to target, or skips the test where
// the system will not (Windows allows it only with a privilege or in
// developer mode).
func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Skipf("cannot make a symbolic link here: %v", err)
	}
	if _, err := os.Lstat(link); err != nil {
		t.Skipf("the symbolic link made is not there (Wine 8's CreateSymbolicLinkW succeeds and does nothing): %v", err)
	}
}

// A symbolic link to a directory, given as the directory to watch, is
// followed: the directory it leads to is watched, and the changes name the
// path as given. The watch stays on that directory when the link goes.
func TestWatcherSymlinkedBase(t *testing.T) {
	checkNoFDLeak(t)
	forEachDriverAnd(t, watcherStandIns, func(t *testing.T, d *Driver) {
		real := tempDir(t)
		os.Mkdir(filepath.Join(real, "sub"), 0o755)
		links := tempDir(t)
		link := filepath.Join(links, "link")
		symlink(t, real, link)
		id, log := watch(t, d, link, false)
		os.WriteFile(filepath.Join(real, "f"), nil, 0o644)
		waitChange(t, d, log, FileChangeAdded, "", "f")
		// A link to the link, given with a trailing separator.
		link2 := filepath.Join(links, "link2")
		symlink(t, link, link2)
		id2, log2 := watch(t, d, link2+string(filepath.Separator), false)
		os.Remove(link)
		os.Remove(link2)
		os.WriteFile(filepath.Join(real, "g"), nil, 0o644)
		waitChange(t, d, log, FileChangeAdded, "", "g")
		waitChange(t, d, log2, FileChangeAdded, "", "g")
		for _, c := range log.changes {
			if c.BaseDirectory != link {
				t.Errorf("change %+v: BaseDirectory is not the path given, %s", c, link)
			}
		}
		for _, c := range log2.changes {
			if c.BaseDirectory != link2+string(filepath.Separator) {
				t.Errorf("change %+v: BaseDirectory is not the path given", c)
			}
		}
		d.Watchers().ReleaseRef(id)
		d.Watchers().ReleaseRef(id2)

		symlink(t, real, link)
		skipUnderWine(t, "Wine 8's ReadDirectoryChangesW ignores bWatchSubtree: changes in sub-directories are not reported")
		id, log = watch(t, d, link, true)
		os.WriteFile(filepath.Join(real, "sub", "f"), nil, 0o644)
		waitChange(t, d, log, FileChangeAdded, "sub", "f")
		d.Watchers().ReleaseRef(id)
	})
}

// Watching a symbolic link to a file, or one that leads nowhere, fails.
func TestWatcherSymlinkNotToDirectory(t *testing.T) {
	forEachDriverAnd(t, watcherStandIns, func(t *testing.T, d *Driver) {
		dir := tempDir(t)
		os.WriteFile(filepath.Join(dir, "file"), nil, 0o644)
		symlink(t, filepath.Join(dir, "file"), filepath.Join(dir, "to-file"))
		symlink(t, filepath.Join(dir, "missing"), filepath.Join(dir, "dangling"))
		for _, name := range []string{"to-file", "dangling"} {
			if id, err := d.Watchers().WatchDirectory(filepath.Join(dir, name), false, func(WatcherID, FileChange) {}); err == nil {
				d.Watchers().ReleaseRef(id)
				t.Errorf("watching the symbolic link %s succeeded", name)
			}
		}
	})
}

// Symbolic links inside a recursive watcher's tree are entries, like
// files: what they lead to is not watched, so that a link to a directory
// above cannot make the watcher loop, and one to a directory elsewhere
// does not widen the watch.
func TestWatcherSymlinksInTreeNotFollowed(t *testing.T) {
	checkNoFDLeak(t)
	forEachDriverAnd(t, watcherStandIns, func(t *testing.T, d *Driver) {
		dir, outside := tempDir(t), tempDir(t)
		os.Mkdir(filepath.Join(dir, "sub"), 0o755)
		symlink(t, dir, filepath.Join(dir, "sub", "loop"))
		symlink(t, outside, filepath.Join(dir, "out"))
		skipUnderWine(t, "Wine 8's ReadDirectoryChangesW ignores bWatchSubtree: changes in sub-directories are not reported")
		id, log := watch(t, d, dir, true)
		os.WriteFile(filepath.Join(outside, "f"), nil, 0o644)
		symlink(t, outside, filepath.Join(dir, "later"))
		waitChange(t, d, log, FileChangeAdded, "", "later")
		os.WriteFile(filepath.Join(outside, "g"), nil, 0o644)
		os.WriteFile(filepath.Join(dir, "sub", "marker"), nil, 0o644)
		waitChange(t, d, log, FileChangeAdded, "sub", "marker")
		for _, c := range log.changes {
			if c.Directory != "" && c.Directory != "sub" {
				t.Errorf("a change through a symbolic link: %+v", c)
			}
			if c.Name == "later" && c.IsDirectory {
				t.Errorf("a symbolic link is reported as a directory: %+v", c)
			}
			if strings.HasPrefix(c.Name, "f") || c.Name == "g" {
				t.Errorf("a change outside the tree: %+v", c)
			}
		}
		d.Watchers().ReleaseRef(id)
	})
}

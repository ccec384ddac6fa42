package eventcore

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// More changes than the system's buffer holds, made while the loop does not
// read, with a directory created among the dropped ones: the overflow is
// reported, and the watcher knows that directory afterwards, so that its
// removal is reported as a directory's.
func TestWatcherOverflowRereadsDirectories(t *testing.T) {
	checkNoFDLeak(t)
	forEachDriver(t, func(t *testing.T, d *Driver) {
		dir := tempDir(t)
		log := &changeLog{}
		seen := 0
		id, err := d.Watchers().WatchDirectory(dir, false, func(id WatcherID, ch FileChange) {
			if ch.Kind == FileChangeAdded && ch.Name != "sub" {
				seen++ // not logged: thousands
				return
			}
			log.cb(id, ch)
		})
		if err != nil {
			t.Fatal(err)
		}
		// With names this long, a record takes over 250 bytes: the 64 KiB
		// the system keeps for the watcher hold fewer than 260.
		const n = 1000
		long := strings.Repeat("x", 120)
		for i := range n {
			if i == n/2 {
				os.Mkdir(filepath.Join(dir, "sub"), 0o755)
			}
			os.WriteFile(filepath.Join(dir, fmt.Sprintf("%s%04d", long, i)), nil, 0o644)
		}
		runUntil(t, d, "an overflow, or every change", func() bool { return log.sawOverflow() || seen == n })
		if !log.sawOverflow() {
			d.Watchers().ReleaseRef(id)
			skipUnderWine(t, "Wine's ReadDirectoryChangesW does not overflow: it keeps every change")
			t.Fatal("no overflow reported")
		}
		os.Remove(filepath.Join(dir, "sub"))
		waitChange(t, d, log, FileChangeRemoved, "", "sub")
		for _, c := range log.changes {
			if c.Kind == FileChangeRemoved && c.Name == "sub" && !c.IsDirectory {
				t.Errorf("the directory created during the overflow is removed as a file: %+v", c)
			}
		}
		d.Watchers().ReleaseRef(id)
	})
}

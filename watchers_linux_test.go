package eventcore

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// More changes than the kernel queues, made while the loop does not read:
// the overflow must be reported, not hidden.
func TestWatcherOverflowReported(t *testing.T) {
	checkNoFDLeak(t)
	raw, err := os.ReadFile("/proc/sys/fs/inotify/max_queued_events")
	limit, err2 := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil || err2 != nil || limit > 1<<20 {
		t.Skipf("inotify queue limit unknown or too large: %q", raw)
	}
	forEachDriver(t, func(t *testing.T, d *Driver) {
		dir := tempDir(t)
		id, log := watch(t, d, dir, false)
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
		for i := 0; i < limit+100; i++ {
			files[i%2].Write([]byte{'x'})
		}
		runUntil(t, d, "overflow", func() bool {
			for _, c := range log.changes {
				if c.Kind == FileChangeOverflow {
					return true
				}
			}
			return false
		})
		// The watcher goes on working.
		os.WriteFile(filepath.Join(dir, "after"), nil, 0o644)
		waitChange(t, d, log, FileChangeAdded, "", "after")
		d.Watchers().ReleaseRef(id)
	})
}

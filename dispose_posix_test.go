//go:build unix

package eventcore

import (
	"path/filepath"
	"sort"
	"syscall"
	"testing"
)

// Dispose closes every kind of handle, reports each as a leak, and leaves
// no descriptor open.
func TestDisposeClosesEverything(t *testing.T) {
	checkNoFDLeak(t)
	for _, name := range testDrivers(t) {
		t.Run(name, func(t *testing.T) {
			d := newTestDriver(t, name)
			dir := tempDir(t)
			if _, err := d.Files().Open(filepath.Join(dir, "f"), FileCreate); err != nil {
				t.Fatal(err)
			}
			r, _ := adoptPipe(t, d)
			d.Pipes().Read(r, make([]byte, 8), IOModeOnce, func(Pipe, IOStatus, int) { t.Error("read called after Dispose") })
			if _, err := d.Watchers().WatchDirectory(dir, true, func(WatcherID, FileChange) {}); err != nil {
				t.Fatal(err)
			}
			proc, err := d.Processes().Spawn([]string{"sleep", "0.1"}, RedirectNone, RedirectPipe, RedirectNone, nil, 0, "")
			if err != nil {
				t.Fatal(err)
			}
			pid := d.Processes().PID(proc.ID)
			d.Processes().Wait(proc.ID, func(ProcessID, int) { t.Error("process wait called after Dispose") })
			d.DNS().LookupHost("localhost", func(DNSLookupID, DNSStatus, []Addr) { t.Error("lookup called after Dispose") })
			d.Sockets().ListenStream(MustParseAddr("127.0.0.1:0"), ListenDefaults, func(StreamListener, StreamSocket, Addr) {})
			if d.Dispose() {
				t.Fatal("Dispose reported no leak")
			}
			var kinds []string
			for _, l := range d.OpenHandles() {
				kinds = append(kinds, l.Kind)
			}
			sort.Strings(kinds)
			want := []string{"DNSLookupID", "File", "Pipe", "Pipe", "Pipe", "ProcessID", "StreamListener", "WatcherID"}
			if len(kinds) != len(want) {
				t.Fatalf("leak report %v, want %v", kinds, want)
			}
			for i := range want {
				if kinds[i] != want[i] {
					t.Fatalf("leak report %v, want %v", kinds, want)
				}
			}
			if d.Core().WaiterCount() != 0 {
				t.Fatal("waiters after Dispose")
			}
			// The child outlives the driver: reap it here.
			var ws syscall.WaitStatus
			if _, err := syscall.Wait4(pid, &ws, 0, nil); err != nil {
				t.Errorf("the child was reaped by a disposed driver: %v", err)
			}
		})
	}
}

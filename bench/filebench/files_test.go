// Package filebench measures file I/O on the loop, per driver.
package filebench

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/eventcore-go/eventcore"
)

// BenchmarkFile4K: 4 KiB reads or writes of a 1 MiB file held in the
// page cache, from the calls to their callbacks, on each driver: the
// worker pool (epoll: a worker's pread/pwrite, handed back through the
// loop's wake-up) against the ring (iouring: one request each, submitted
// and completed in the loop's own wait). "x1": one operation at a time;
// "x16": sixteen at once, on sixteen handles of the file. Offsets walk the
// file, so every block is cached. ns/op is per operation.
//
//	go test -run '^$' -bench File4K -benchmem -count 8 ./filebench/
func BenchmarkFile4K(b *testing.B) {
	const size, block = 1 << 20, 4096
	path := filepath.Join(b.TempDir(), "f")
	if err := os.WriteFile(path, make([]byte, size), 0o600); err != nil {
		b.Fatal(err)
	}
	for _, op := range []string{"read", "write"} {
		for _, width := range []int{1, 16} {
			for _, name := range []string{"epoll", "iouring"} {
				b.Run(fmt.Sprintf("%s/x%d/%s", op, width, name), func(b *testing.B) {
					run4K(b, name, path, op == "write", width, size, block)
				})
			}
		}
	}
}

func run4K(b *testing.B, name, path string, write bool, width int, size, block int64) {
	if !slices.Contains(eventcore.Drivers(), name) {
		b.Skipf("no %s driver here", name)
	}
	d, err := eventcore.New(eventcore.WithDriver(name))
	if err != nil {
		b.Fatal(err)
	}
	defer d.Dispose()
	fs := d.Files()
	start := fs.Read
	if write {
		start = fs.Write
	}
	files := make([]eventcore.File, width)
	bufs := make([][]byte, width)
	for i := range files {
		if files[i], err = fs.Open(path, eventcore.FileReadWrite); err != nil {
			b.Fatal(err)
		}
		defer fs.ReleaseRef(files[i])
		bufs[i] = make([]byte, block)
	}
	pending, failed := 0, eventcore.IOStatusOK
	cb := func(_ eventcore.File, st eventcore.IOStatus, _ int) {
		pending--
		if st != eventcore.IOStatusOK {
			failed = st
		}
	}
	b.SetBytes(block)
	b.ReportAllocs()
	var off int64
	for i := 0; i < b.N; i += width {
		for j, f := range files {
			start(f, off, bufs[j], eventcore.IOModeAll, cb)
			off = (off + block) % size
		}
		for pending += width; pending > 0; {
			d.Core().ProcessEvents(eventcore.Infinite)
		}
		if failed != eventcore.IOStatusOK {
			b.Fatal(failed)
		}
	}
}

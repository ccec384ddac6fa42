package eventcore

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"
)

type fileResult struct {
	done   bool
	status IOStatus
	n      int
}

func (r *fileResult) cb(_ File, st IOStatus, n int) { *r = fileResult{true, st, n} }

// runFileOp runs one file operation to completion.
func runFileOp(t *testing.T, d *Driver, start func(FileIOCallback)) fileResult {
	t.Helper()
	var r fileResult
	start(r.cb)
	runUntil(t, d, "file operation", func() bool { return r.done })
	return r
}

func TestFileReadWriteAtOffsets(t *testing.T) {
	checkNoFDLeak(t)
	dir := tempDir(t)
	forEachDriver(t, func(t *testing.T, d *Driver) {
		fs := d.Files()
		f, err := fs.Open(filepath.Join(dir, d.Name()), FileCreateTrunc)
		if err != nil {
			t.Fatal(err)
		}
		if r := runFileOp(t, d, func(cb FileIOCallback) { fs.Write(f, 0, []byte("hello world"), IOModeAll, cb) }); r.status != IOStatusOK || r.n != 11 {
			t.Fatalf("write: %+v", r)
		}
		if r := runFileOp(t, d, func(cb FileIOCallback) { fs.Write(f, 6, []byte("WORLD!"), IOModeAll, cb) }); r.status != IOStatusOK || r.n != 6 {
			t.Fatalf("write at 6: %+v", r)
		}
		if size, err := fs.GetSize(f); err != nil || size != 12 {
			t.Fatalf("size %d, %v", size, err)
		}
		buf := make([]byte, 5)
		if r := runFileOp(t, d, func(cb FileIOCallback) { fs.Read(f, 6, buf, IOModeAll, cb) }); r.status != IOStatusOK || string(buf) != "WORLD" {
			t.Fatalf("read at 6: %+v %q", r, buf)
		}
		// Reading across the end: the bytes there, and readPastEOF.
		buf = make([]byte, 10)
		if r := runFileOp(t, d, func(cb FileIOCallback) { fs.Read(f, 8, buf, IOModeAll, cb) }); r.status != IOStatusReadPastEOF || r.n != 4 || string(buf[:4]) != "RLD!" {
			t.Fatalf("read across the end: %+v %q", r, buf[:r.n])
		}
		if r := runFileOp(t, d, func(cb FileIOCallback) { fs.Read(f, 100, buf, IOModeOnce, cb) }); r.status != IOStatusReadPastEOF || r.n != 0 {
			t.Fatalf("read past the end: %+v", r)
		}
		// A read and a write may be pending together; a second read is busy.
		var rd, wr, busy fileResult
		fs.Read(f, 0, make([]byte, 5), IOModeAll, rd.cb)
		fs.Read(f, 0, make([]byte, 5), IOModeAll, busy.cb)
		fs.Write(f, 12, []byte("tail"), IOModeAll, wr.cb)
		if rd.done || wr.done || !busy.done || busy.status != IOStatusBusy {
			t.Fatalf("concurrent operations: read %+v write %+v second read %+v", rd, wr, busy)
		}
		runUntil(t, d, "read and write", func() bool { return rd.done && wr.done })
		if rd.status != IOStatusOK || wr.status != IOStatusOK {
			t.Fatalf("read %+v write %+v", rd, wr)
		}
		if r := runFileOp(t, d, func(cb FileIOCallback) { fs.Truncate(f, 5, cb) }); r.status != IOStatusOK {
			t.Fatalf("truncate: %+v", r)
		}
		if size, _ := fs.GetSize(f); size != 5 {
			t.Fatalf("size after truncate %d", size)
		}
		if got, _ := os.ReadFile(filepath.Join(dir, d.Name())); string(got) != "hello" {
			t.Fatalf("file holds %q", got)
		}
		var closed CloseStatus = 255
		fs.Close(f, func(_ File, st CloseStatus) { closed = st })
		if r := runFileOp(t, d, func(cb FileIOCallback) { fs.Read(f, 0, buf, IOModeOnce, cb) }); r.status != IOStatusNotAllowed {
			t.Fatalf("read after Close: %+v", r)
		}
		runUntil(t, d, "close", func() bool { return closed != 255 })
		if closed != CloseStatusOK {
			t.Fatalf("close: %v", closed)
		}
		fs.ReleaseRef(f)
	})
}

func TestFileOpenModes(t *testing.T) {
	checkNoFDLeak(t)
	dir := tempDir(t)
	forEachDriver(t, func(t *testing.T, d *Driver) {
		fsys := d.Files()
		path := filepath.Join(dir, d.Name()+"-modes")
		write := func(f File, off int64, s string) {
			t.Helper()
			if r := runFileOp(t, d, func(cb FileIOCallback) { fsys.Write(f, off, []byte(s), IOModeAll, cb) }); r.status != IOStatusOK {
				t.Fatalf("write %q: %+v (%v)", s, r, d.LastError(f))
			}
		}
		content := func() string { b, _ := os.ReadFile(path); return string(b) }

		if _, err := fsys.Open(path, FileRead); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("read-open of a missing file: %v", err)
		}
		if _, err := fsys.Open(path, FileReadWrite); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("read-write-open of a missing file: %v", err)
		}
		f, err := fsys.Open(path, FileCreateNew)
		if err != nil {
			t.Fatal(err)
		}
		write(f, 0, "0123456789")
		fsys.ReleaseRef(f)
		if _, err := fsys.Open(path, FileCreateNew); !errors.Is(err, fs.ErrExist) {
			t.Fatalf("create-new on an existing file: %v", err)
		}
		f, _ = fsys.Open(path, FileCreate) // no truncation
		write(f, 2, "ab")
		fsys.ReleaseRef(f)
		if c := content(); c != "01ab456789" {
			t.Fatalf("after create: %q", c)
		}
		f, _ = fsys.Open(path, FileReadWrite)
		write(f, 9, "XY")
		fsys.ReleaseRef(f)
		if c := content(); c != "01ab45678XY" {
			t.Fatalf("after read-write: %q", c)
		}
		f, _ = fsys.Open(path, FileAppend)
		write(f, 0, "++") // the offset does not matter
		fsys.ReleaseRef(f)
		if c := content(); c != "01ab45678XY++" {
			t.Fatalf("after append: %q", c)
		}
		f, _ = fsys.Open(path, FileCreateTrunc)
		if size, _ := fsys.GetSize(f); size != 0 {
			t.Fatalf("create-trunc left %d bytes", size)
		}
		fsys.ReleaseRef(f)
		f, _ = fsys.Open(path, FileRead)
		if r := runFileOp(t, d, func(cb FileIOCallback) { fsys.Write(f, 0, []byte("x"), IOModeAll, cb) }); r.status != IOStatusNotAllowed {
			t.Fatalf("write to a read-only file: %+v", r)
		}
		fsys.ReleaseRef(f)
		if _, err := fsys.Open(dir, FileRead); err == nil {
			t.Fatal("opened a directory as a file")
		}
	})
}

func TestFileOpenAsync(t *testing.T) {
	checkNoFDLeak(t)
	dir := tempDir(t)
	existing := filepath.Join(dir, "existing")
	os.WriteFile(existing, []byte("data"), 0o644)
	forEachDriver(t, func(t *testing.T, d *Driver) {
		open := func(path string, mode FileOpenMode) (File, OpenStatus) {
			t.Helper()
			var f File
			st := OpenStatus(255)
			d.Files().OpenAsync(path, mode, func(got File, s OpenStatus) { f, st = got, s })
			if st != 255 {
				t.Fatal("OpenAsync called back before returning")
			}
			runUntil(t, d, "open", func() bool { return st != 255 })
			return f, st
		}
		f, st := open(existing, FileRead)
		if st != OpenStatusOK || f == (File{}) {
			t.Fatalf("open existing: %v", st)
		}
		buf := make([]byte, 8)
		if r := runFileOp(t, d, func(cb FileIOCallback) { d.Files().Read(f, 0, buf, IOModeAll, cb) }); r.n != 4 || string(buf[:4]) != "data" {
			t.Fatalf("read: %+v", r)
		}
		d.Files().ReleaseRef(f)
		for _, c := range []struct {
			path string
			mode FileOpenMode
			want OpenStatus
		}{
			{filepath.Join(dir, "missing"), FileRead, OpenStatusNotFound},
			{filepath.Join(dir, "missing", "below"), FileCreate, OpenStatusNotFound},
			{dir, FileRead, OpenStatusIsDirectory},
			{existing, FileCreateNew, OpenStatusAlreadyExists},
		} {
			if f, st := open(c.path, c.mode); st != c.want || f != (File{}) {
				t.Errorf("OpenAsync(%s, %v) = %v, want %v", c.path, c.mode, st, c.want)
			}
		}
	})
}

func TestFileCancel(t *testing.T) {
	checkNoFDLeak(t)
	dir := tempDir(t)
	forEachDriver(t, func(t *testing.T, d *Driver) {
		fs := d.Files()
		f, err := fs.Open(filepath.Join(dir, d.Name()+"-cancel"), FileCreateTrunc)
		if err != nil {
			t.Fatal(err)
		}
		big := bytes.Repeat([]byte("x"), 8<<20)
		fs.Write(f, 0, big, IOModeAll, func(File, IOStatus, int) { t.Error("cancelled write called") })
		fs.Read(f, 0, make([]byte, 1<<20), IOModeAll, func(File, IOStatus, int) { t.Error("cancelled read called") })
		fs.CancelWrite(f)
		fs.CancelRead(f)
		if d.Core().WaiterCount() != 0 {
			t.Fatal("cancelled operations still counted")
		}
		// New operations start while the cancelled ones may still run.
		if r := runFileOp(t, d, func(cb FileIOCallback) { fs.Write(f, 0, []byte("after"), IOModeAll, cb) }); r.status != IOStatusOK {
			t.Fatalf("write after cancel: %+v", r)
		}
		runFor(d, 50*time.Millisecond)
		// Releasing with an operation in flight: no callback, and the
		// descriptor is closed once the system call in flight returned.
		fs.Write(f, 0, big, IOModeAll, func(File, IOStatus, int) { t.Error("write of a released file called") })
		fs.ReleaseRef(f)
		runFor(d, 50*time.Millisecond)
	})
}

func TestFileErrors(t *testing.T) {
	checkNoFDLeak(t)
	forEachDriver(t, func(t *testing.T, d *Driver) {
		fs := d.Files()
		var r fileResult
		fs.Read(File{}, 0, make([]byte, 1), IOModeOnce, r.cb)
		if !r.done || r.status != IOStatusInvalidHandle {
			t.Fatalf("read on the zero File: %+v", r)
		}
		if _, err := fs.GetSize(File{}); !errors.Is(err, ErrInvalidHandle) {
			t.Fatalf("GetSize of the zero File: %v", err)
		}
		full, err := fs.Open("/dev/full", FileReadWrite)
		if err != nil {
			t.Skipf("no /dev/full: %v", err)
		}
		if r := runFileOp(t, d, func(cb FileIOCallback) { fs.Write(full, 0, []byte("x"), IOModeAll, cb) }); r.status != IOStatusNoSpaceLeft {
			t.Fatalf("write to /dev/full: %+v (%v)", r, d.LastError(full))
		}
		fs.ReleaseRef(full)
	})
}

func TestFileAdopt(t *testing.T) {
	checkNoFDLeak(t)
	dir := tempDir(t)
	forEachDriver(t, func(t *testing.T, d *Driver) {
		path := filepath.Join(dir, d.Name()+"-adopt")
		os.WriteFile(path, []byte("adopted"), 0o644)
		of, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		fd := dupFD(t, of)
		of.Close()
		f, err := d.Files().Adopt(fd)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.Files().Adopt(fd); !errors.Is(err, ErrAlreadyRegistered) {
			t.Fatalf("adopting the same descriptor twice: %v", err)
		}
		// The descriptor was opened for appending: the offset is ignored.
		if r := runFileOp(t, d, func(cb FileIOCallback) { d.Files().Write(f, 0, []byte("!"), IOModeAll, cb) }); r.status != IOStatusOK {
			t.Fatalf("write: %+v", r)
		}
		if got, _ := os.ReadFile(path); string(got) != "adopted!" {
			t.Fatalf("file holds %q", got)
		}
		d.Files().ReleaseRef(f)
	})
}

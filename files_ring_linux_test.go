//go:build linux

package eventcore

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Files through the io_uring driver's ring (files_ring.go,
// poller_uring_files.go).

// newRingDriver returns an iouring driver, skipping the test where there
// is none.
func newRingDriver(t *testing.T, opts ...Option) *Driver {
	t.Helper()
	if !slices.Contains(Drivers(), "iouring") {
		t.Skip("io_uring is not available here")
	}
	d := newTestDriver(t, "iouring", opts...)
	if d.l.fileOps == nil {
		t.Fatal("the iouring driver offers no file ring")
	}
	return d
}

// liveRingOps counts the operations the poller still holds.
func liveRingOps(d *Driver) int {
	n := 0
	d.l.p.(*uringPoller).ops.each(func(handle, *entry[uringOp]) { n++ })
	return n
}

// ringFIFO makes a FIFO and opens it as a file for reading and writing
// (which does not wait for a writer): a read of it waits in the kernel
// until data comes. It returns the file and a non-blocking writer.
func ringFIFO(t *testing.T, d *Driver) (File, string, *os.File) {
	t.Helper()
	path := filepath.Join(tempDir(t), "fifo")
	if err := unix.Mkfifo(path, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	f, err := d.Files().Open(path, FileReadWrite)
	if err != nil {
		t.Fatal(err)
	}
	w, err := os.OpenFile(path, os.O_WRONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return f, path, w
}

// readInKernel starts a read of f into buf and submits it: it waits in
// the kernel then.
func readInKernel(t *testing.T, d *Driver, f File, buf []byte) {
	t.Helper()
	d.Files().Read(f, 0, buf, IOModeOnce, func(_ File, st IOStatus, n int) {
		t.Errorf("cancelled read called back: %v, %d", st, n)
	})
	d.Core().ProcessEvents(0)
	if p := d.l.p.(*uringPoller); p.r.unsubmitted != 0 || liveRingOps(d) != 1 {
		t.Fatalf("the read is not in the kernel: %d queued, %d operations", p.r.unsubmitted, liveRingOps(d))
	}
}

// ringRound runs the ring once with an operation to wait for: the enter
// that waits for it also runs the kernel's pending work, such as a read of
// a FIFO that data has come to.
func ringRound(t *testing.T, d *Driver) {
	t.Helper()
	g, err := d.Files().Open(tempFile(t, []byte("x")), FileRead)
	if err != nil {
		t.Fatal(err)
	}
	if r := runFileOp(t, d, func(cb FileIOCallback) { d.Files().Read(g, 0, make([]byte, 1), IOModeAll, cb) }); r.status != IOStatusOK {
		t.Fatalf("read of a regular file: %+v", r)
	}
	d.Files().ReleaseRef(g)
}

// Reads, writes, a truncation and a close all go through the ring: the
// worker pool never starts.
func TestFileRingNoWorkerPool(t *testing.T) {
	checkNoFDLeak(t)
	d := newRingDriver(t)
	fs := d.Files()
	f, err := fs.Open(filepath.Join(tempDir(t), "f"), FileCreateTrunc)
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("0123456789abcdef"), 256)
	if r := runFileOp(t, d, func(cb FileIOCallback) { fs.Write(f, 0, data, IOModeAll, cb) }); r.status != IOStatusOK || r.n != len(data) {
		t.Fatalf("write: %+v", r)
	}
	got := make([]byte, len(data)+10)
	if r := runFileOp(t, d, func(cb FileIOCallback) { fs.Read(f, 0, got, IOModeAll, cb) }); r.status != IOStatusReadPastEOF || r.n != len(data) || !bytes.Equal(got[:r.n], data) {
		t.Fatalf("read: %+v", r)
	}
	if r := runFileOp(t, d, func(cb FileIOCallback) { fs.Truncate(f, 100, cb) }); r.status != IOStatusOK {
		t.Fatalf("truncate: %+v", r)
	}
	if size, _ := fs.GetSize(f); size != 100 {
		t.Fatalf("size %d after truncating to 100", size)
	}
	closed := CloseStatus(255)
	fs.Close(f, func(_ File, st CloseStatus) { closed = st })
	runUntil(t, d, "close", func() bool { return closed != 255 })
	if closed != CloseStatusOK {
		t.Fatalf("close: %v", closed)
	}
	fs.ReleaseRef(f)
	if n := d.l.workers.started; n != 0 {
		t.Errorf("%d workers started", n)
	}
	if !d.Dispose() {
		t.Errorf("handles left open: %+v", d.OpenHandles())
	}
}

// Where the kernel lacks IORING_OP_FTRUNCATE, a truncation runs on the
// worker pool, and the reads and writes stay on the ring.
func TestFileRingTruncateFallback(t *testing.T) {
	checkNoFDLeak(t)
	defer func(probe func() bool) { uringFtruncate = probe }(uringFtruncate)
	uringFtruncate = func() bool { return false }
	d := newRingDriver(t)
	fs := d.Files()
	f, err := fs.Open(tempFile(t, []byte("0123456789")), FileReadWrite)
	if err != nil {
		t.Fatal(err)
	}
	if r := runFileOp(t, d, func(cb FileIOCallback) { fs.Truncate(f, 4, cb) }); r.status != IOStatusOK {
		t.Fatalf("truncate: %+v", r)
	}
	if n := d.l.workers.started; n != 1 {
		t.Errorf("%d workers started for the truncation, want 1", n)
	}
	got := make([]byte, 10)
	if r := runFileOp(t, d, func(cb FileIOCallback) { fs.Read(f, 0, got, IOModeAll, cb) }); r.status != IOStatusReadPastEOF || string(got[:r.n]) != "0123" {
		t.Fatalf("read after truncating to 4: %+v %q", r, got[:r.n])
	}
	fs.ReleaseRef(f)
	d.Dispose()
	checkNoDriverGoroutines(t)
}

// CancelRead of a read the kernel holds (a FIFO with no data) cancels the
// request and waits for its end: the data written afterwards goes to the
// next read, into the same buffer, and the cancelled read never calls
// back.
func TestFileRingCancelInKernel(t *testing.T) {
	checkNoFDLeak(t)
	d := newRingDriver(t)
	fs := d.Files()
	f, _, w := ringFIFO(t, d)
	buf := make([]byte, 16)
	readInKernel(t, d, f, buf)
	fs.CancelRead(f)
	if n := liveRingOps(d); n != 0 {
		t.Fatalf("%d operations left after CancelRead", n)
	}
	if n := d.Core().WaiterCount(); n != 0 {
		t.Fatalf("WaiterCount %d after CancelRead", n)
	}
	copy(buf, "----------------") // the caller reuses its buffer
	if _, err := w.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	ringRound(t, d)
	if string(buf) != "----------------" {
		t.Fatalf("the cancelled read wrote into its buffer: %q", buf)
	}
	if r := runFileOp(t, d, func(cb FileIOCallback) { fs.Read(f, 0, buf, IOModeOnce, cb) }); r.status != IOStatusOK || string(buf[:r.n]) != "hello" {
		t.Fatalf("read after the cancel: %+v %q", r, buf)
	}
	fs.ReleaseRef(f)
	if !d.Dispose() {
		t.Errorf("handles left open: %+v", d.OpenHandles())
	}
}

// Releasing a file whose read the kernel holds cancels the read before
// the descriptor is closed: the data written afterwards stays in the
// FIFO for its next reader, and the buffer is untouched.
func TestFileRingReleaseInKernel(t *testing.T) {
	checkNoFDLeak(t)
	d := newRingDriver(t)
	f, path, w := ringFIFO(t, d)
	buf := make([]byte, 16)
	readInKernel(t, d, f, buf)
	fd := d.l.files.get(f.h, kindFile).v.fd
	if d.Files().ReleaseRef(f) {
		t.Fatal("file alive after its last release")
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != unix.EBADF {
		t.Fatalf("descriptor still open after the release: %v", err)
	}
	if n := liveRingOps(d); n != 0 {
		t.Fatalf("%d operations left after the release", n)
	}
	rd, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(rd)
	if _, err := w.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	ringRound(t, d)
	got := make([]byte, 16)
	if n, err := unix.Read(rd, got); err != nil || string(got[:max(n, 0)]) != "hello" {
		t.Fatalf("FIFO's next reader got %q, %v", got[:max(n, 0)], err)
	}
	if !bytes.Equal(buf, make([]byte, 16)) {
		t.Fatalf("the released file's read wrote %q", buf)
	}
	if !d.Dispose() {
		t.Errorf("handles left open: %+v", d.OpenHandles())
	}
}

// A read released while its request still waits in the ring's queue is
// dropped unsent: the file that reuses its descriptor number is not read.
func TestFileRingReleaseQueued(t *testing.T) {
	checkNoFDLeak(t)
	d := newRingDriver(t)
	fs := d.Files()
	a, err := fs.Open(tempFile(t, []byte("AAAAAAAA")), FileRead)
	if err != nil {
		t.Fatal(err)
	}
	fd := d.l.files.get(a.h, kindFile).v.fd
	buf := make([]byte, 8)
	fs.Read(a, 0, buf, IOModeAll, func(File, IOStatus, int) { t.Error("released read called back") })
	fs.ReleaseRef(a)
	b, err := fs.Open(tempFile(t, []byte("BBBBBBBB")), FileRead)
	if err != nil {
		t.Fatal(err)
	}
	if got := d.l.files.get(b.h, kindFile).v.fd; got != fd {
		t.Skipf("descriptor %d not reused (%d)", fd, got)
	}
	got := make([]byte, 8)
	if r := runFileOp(t, d, func(cb FileIOCallback) { fs.Read(b, 0, got, IOModeAll, cb) }); r.status != IOStatusOK || string(got) != "BBBBBBBB" {
		t.Fatalf("read of the second file: %+v %q", r, got)
	}
	if !bytes.Equal(buf, make([]byte, 8)) {
		t.Fatalf("the released read wrote %q", buf)
	}
	fs.ReleaseRef(b)
	if !d.Dispose() {
		t.Errorf("handles left open: %+v", d.OpenHandles())
	}
}

// Dispose with a read in the kernel cancels it, and closes the file.
func TestFileRingDisposeInKernel(t *testing.T) {
	checkNoFDLeak(t)
	d := newRingDriver(t)
	f, _, w := ringFIFO(t, d)
	buf := make([]byte, 16)
	readInKernel(t, d, f, buf)
	if d.Dispose() {
		t.Error("Dispose reported no leak with the file open")
	}
	if _, err := w.Write([]byte("hello")); err == nil {
		t.Error("the FIFO still has a reader after Dispose")
	}
	if !bytes.Equal(buf, make([]byte, 16)) {
		t.Fatalf("the disposed file's read wrote %q", buf)
	}
}

// A handover of the loop to another goroutine moves the poller to a new
// ring: a read the old ring held fails (IOStatusError, ECANCELED), and
// files go on working on the new ring. (The old ring's request ends in the
// background, so the FIFO is not read again here.)
func TestFileRingHandover(t *testing.T) {
	checkNoFDLeak(t)
	d := newRingDriver(t)
	fs := d.Files()
	f, _, _ := ringFIFO(t, d)
	var r fileResult
	var rerr error
	fs.Read(f, 0, make([]byte, 16), IOModeOnce, func(f File, st IOStatus, n int) {
		r.cb(f, st, n)
		rerr = d.LastError(f) // on the goroutine that has the loop now
	})
	d.Core().ProcessEvents(0)
	done := make(chan bool)
	go func() {
		deadline := time.Now().Add(hangLimit)
		for !r.done && time.Now().Before(deadline) {
			d.Core().ProcessEvents(10 * time.Millisecond)
		}
		done <- r.done
	}()
	if !<-done {
		t.Fatal("the read held by the left ring did not complete")
	}
	if r.status != IOStatusError || !errors.Is(rerr, unix.ECANCELED) {
		t.Fatalf("read across the handover: %+v (%v)", r, rerr)
	}
	d.Core().ProcessEvents(0) // takes the loop back, to a third ring
	g, err := fs.Open(tempFile(t, []byte("hello")), FileRead)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 5)
	if r := runFileOp(t, d, func(cb FileIOCallback) { fs.Read(g, 0, got, IOModeAll, cb) }); r.status != IOStatusOK || string(got) != "hello" {
		t.Fatalf("read after the handover: %+v %q", r, got)
	}
	fs.ReleaseRef(f)
	fs.ReleaseRef(g)
	if !d.Dispose() {
		t.Errorf("handles left open: %+v", d.OpenHandles())
	}
}

// A write to a file opened for appending goes to the end whatever offset
// it names, and moves the file's position there, as write(2) does, on
// every driver.
func TestFileAppendMovesPosition(t *testing.T) {
	checkNoFDLeak(t)
	forEachDriver(t, func(t *testing.T, d *Driver) {
		fs := d.Files()
		path := tempFile(t, []byte("0123"))
		fd, err := unix.Open(path, unix.O_RDWR|unix.O_APPEND|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		f, err := fs.Adopt(uintptr(fd))
		if err != nil {
			unix.Close(fd)
			t.Fatal(err)
		}
		for _, s := range []string{"abc", "def"} {
			if r := runFileOp(t, d, func(cb FileIOCallback) { fs.Write(f, 1, []byte(s), IOModeAll, cb) }); r.status != IOStatusOK || r.n != 3 {
				t.Fatalf("write %q: %+v", s, r)
			}
		}
		if b, _ := os.ReadFile(path); string(b) != "0123abcdef" {
			t.Fatalf("file holds %q", b)
		}
		if pos, err := unix.Seek(fd, 0, 1); err != nil || pos != 10 {
			t.Fatalf("position %d (%v) after the appends, want 10", pos, err)
		}
		fs.ReleaseRef(f)
	})
}

//go:build unix

package eventcore

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Cancels and Dispose against a busy worker pool: the tests make the one
// file worker (WithWorkers(1)) wait, so that the jobs submitted after are
// certainly still queued.

// blockWorker makes the driver's file worker wait in an OpenAsync of a
// FIFO, which open(2) leaves blocked until a writer comes; unblock opens
// the writing end, and the open completes (its file is released at once).
func blockWorker(t *testing.T, d *Driver) (unblock func()) {
	t.Helper()
	path := filepath.Join(tempDir(t), "fifo")
	if err := unix.Mkfifo(path, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	d.Files().OpenAsync(path, FileRead, func(f File, st OpenStatus) {
		if st != OpenStatusOK {
			t.Errorf("open of the FIFO: %v", st)
		}
		d.Files().ReleaseRef(f)
	})
	// The worker has taken the job once it is in openFile: Dispose cannot
	// drop it from the queue any more.
	deadline := time.Now().Add(hangLimit)
	stacks := make([]byte, 1<<20)
	for !bytes.Contains(stacks[:runtime.Stack(stacks, true)], []byte("eventcore.openFile(")) {
		if time.Now().After(deadline) {
			t.Fatal("no worker took the FIFO's open")
		}
		time.Sleep(time.Millisecond)
	}
	return func() {
		t.Helper()
		// A non-blocking open for writing fails (ENXIO) until the worker's
		// open for reading waits in the FIFO.
		deadline := time.Now().Add(hangLimit)
		for {
			w, err := unix.Open(path, unix.O_WRONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
			if err == nil {
				unix.Close(w)
				return
			}
			if err != unix.ENXIO || time.Now().After(deadline) {
				t.Fatalf("opening the FIFO's writing end: %v", err)
			}
			time.Sleep(time.Millisecond)
		}
	}
}

// A read or write cancelled while its job waits in the queue is dropped:
// it never touches the buffer the caller has reused since.
func TestFileCancelQueuedKeepsBuffer(t *testing.T) {
	checkNoFDLeak(t)
	forEachDriver(t, func(t *testing.T, d *Driver) {
		fs := d.Files()
		path := tempFile(t, []byte("0123456789"))
		f, err := fs.Open(path, FileReadWrite)
		if err != nil {
			t.Fatal(err)
		}
		unblock := blockWorker(t, d)
		rbuf, wbuf := make([]byte, 10), []byte("AAAAAAAAAA")
		fs.Read(f, 0, rbuf, IOModeAll, func(File, IOStatus, int) { t.Error("cancelled read called back") })
		fs.Write(f, 0, wbuf, IOModeAll, func(File, IOStatus, int) { t.Error("cancelled write called back") })
		fs.CancelRead(f)
		fs.CancelWrite(f)
		copy(rbuf, "rrrrrrrrrr") // the caller reuses its buffers
		copy(wbuf, "wwwwwwwwww")
		unblock()
		// One worker runs the queue in order: this read comes after the
		// cancelled jobs.
		got := make([]byte, 10)
		if r := runFileOp(t, d, func(cb FileIOCallback) { fs.Read(f, 0, got, IOModeAll, cb) }); r.status != IOStatusOK {
			t.Fatalf("read: %+v", r)
		}
		if string(rbuf) != "rrrrrrrrrr" {
			t.Errorf("the cancelled read wrote %q into its buffer", rbuf)
		}
		if string(got) != "0123456789" {
			t.Errorf("after a cancelled write the file holds %q", got)
		}
		runUntil(t, d, "the FIFO's open", func() bool { return d.Core().WaiterCount() == 0 })
		fs.ReleaseRef(f)
	}, WithWorkers(1))
}

// A write cancelled while its system call runs: the cancel waits for that
// call, so bytes the caller puts into the buffer afterwards are never
// written. The file is a pipe opened for appending (write(2), which blocks
// while the pipe is full), drained slowly by another goroutine.
func TestFileCancelRunningWriteKeepsBuffer(t *testing.T) {
	checkNoFDLeak(t)
	forEachDriver(t, func(t *testing.T, d *Driver) {
		var p [2]int
		if err := unix.Pipe(p[:]); err != nil { // blocking, unlike os.Pipe's
			t.Fatal(err)
		}
		unix.CloseOnExec(p[0])
		unix.CloseOnExec(p[1])
		rd := os.NewFile(uintptr(p[0]), "pipe")
		defer rd.Close()
		if _, err := unix.FcntlInt(uintptr(p[1]), unix.F_SETFL, unix.O_APPEND); err != nil {
			t.Fatal(err)
		}
		f, err := d.Files().Adopt(uintptr(p[1]))
		if err != nil {
			t.Fatal(err)
		}
		buf := bytes.Repeat([]byte("a"), 1<<20) // much more than the pipe holds
		d.Files().Write(f, 0, buf, IOModeAll, func(File, IOStatus, int) { t.Error("cancelled write called back") })
		// The write is in its system call (a worker's write(2), or the
		// kernel's request, which the loop submits) once the pipe holds
		// data.
		first := make(chan error, 1)
		go func() {
			var b [1]byte
			_, err := rd.Read(b[:])
			if err == nil && b[0] != 'a' {
				err = fmt.Errorf("first byte %q", b[:])
			}
			first <- err
		}()
		var err1 error
		runUntil(t, d, "the write's first byte", func() bool {
			select {
			case err1 = <-first:
				return true
			default:
				return false
			}
		})
		if err1 != nil {
			t.Fatal(err1)
		}
		foreign := make(chan bool, 1)
		go func() {
			// Paced, so that the write is still in its system call when
			// the buffer is reused if the cancel did not wait for it.
			chunk, seen := make([]byte, 16<<10), false
			for {
				n, err := rd.Read(chunk)
				seen = seen || bytes.Count(chunk[:n], []byte("a")) != n
				if err != nil {
					foreign <- seen
					return
				}
				time.Sleep(time.Millisecond)
			}
		}()
		d.Files().CancelWrite(f)
		copy(buf, bytes.Repeat([]byte("B"), len(buf))) // the caller reuses its buffer
		d.Files().ReleaseRef(f)                        // the reader sees the end
		select {
		case seen := <-foreign:
			if seen {
				t.Error("bytes put into the buffer after CancelWrite were written")
			}
		case <-time.After(hangLimit):
			t.Fatal("the reader did not see the end of the pipe")
		}
	})
}

// Dispose closes every file's descriptor, whatever jobs are queued for it
// (writes, closes), and what asynchronous opens open.
func TestDisposeClosesQueuedFiles(t *testing.T) {
	for _, name := range testDrivers(t) {
		t.Run(name, func(t *testing.T) {
			dir := tempDir(t)
			before := openFDs(t)
			d := newTestDriver(t, name, WithWorkers(1))
			unblock := blockWorker(t, d)
			fs := d.Files()
			for i := range 10 {
				f, err := fs.Open(filepath.Join(dir, string(rune('a'+i))), FileCreateTrunc)
				if err != nil {
					t.Fatal(err)
				}
				if i%2 == 0 {
					fs.Write(f, 0, []byte("data"), IOModeAll, func(File, IOStatus, int) { t.Error("write called back after Dispose") })
				}
				fs.Close(f, func(File, CloseStatus) { t.Error("close called back after Dispose") })
			}
			d.Dispose()
			if after := openFDs(t); after != before {
				t.Errorf("%d descriptors open after Dispose", after-before)
			}
			// The FIFO's open ends after Dispose: the worker closes it.
			unblock()
			checkNoDriverGoroutines(t)
			if after := openFDs(t); after != before {
				t.Errorf("%d descriptors open after the worker ended", after-before)
			}
		})
	}
}

// A file that OpenAsync opened, but whose completion the loop has not
// processed, is closed by Dispose.
func TestDisposeClosesOpenedFile(t *testing.T) {
	path := tempFile(t, nil)
	for _, name := range testDrivers(t) {
		t.Run(name, func(t *testing.T) {
			before := openFDs(t)
			d := newTestDriver(t, name)
			running := openFDs(t)
			d.Files().OpenAsync(path, FileRead, func(File, OpenStatus) { t.Error("open called back after Dispose") })
			deadline := time.Now().Add(hangLimit)
			for openFDs(t) == running {
				if time.Now().After(deadline) {
					t.Fatal("the file was not opened")
				}
				time.Sleep(time.Millisecond)
			}
			d.Dispose()
			checkNoDriverGoroutines(t)
			if after := openFDs(t); after != before {
				t.Errorf("%d descriptors open after Dispose", after-before)
			}
		})
	}
}

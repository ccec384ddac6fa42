package eventcore

import (
	"bytes"
	"testing"
)

// After CancelRead returns, the read's buffer is the caller's again: a
// cancel issued while the transfer may be running (on a worker, or in the
// kernel on winapi) waits for it, so what the caller writes into the
// buffer afterwards stays there.
func TestFileCancelKeepsBuffer(t *testing.T) {
	checkNoFDLeak(t)
	data := bytes.Repeat([]byte("f"), 16<<20)
	path := tempFile(t, data)
	forEachDriver(t, func(t *testing.T, d *Driver) {
		fs := d.Files()
		f, err := fs.Open(path, FileRead)
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, len(data))
		for range 4 {
			fs.Read(f, 0, buf, IOModeAll, func(File, IOStatus, int) { t.Error("cancelled read called back") })
			fs.CancelRead(f)
			clear(buf) // the caller reuses its buffer
			// A read started after the cancel completes after the
			// cancelled transfer ended, whatever it was doing.
			if r := runFileOp(t, d, func(cb FileIOCallback) { fs.Read(f, 0, make([]byte, 4), IOModeAll, cb) }); r.status != IOStatusOK {
				t.Fatalf("read after the cancel: %+v", r)
			}
			if i := bytes.IndexByte(buf, 'f'); i >= 0 {
				t.Fatalf("the cancelled read wrote into its buffer at %d after CancelRead", i)
			}
		}
		fs.ReleaseRef(f)
	})
}

// Close waits for the pending read; a read started from that read's
// callback (a read loop) is refused with IOStatusNotAllowed, so that the
// close completes and nothing is left waiting.
func TestFileCloseRefusesReissuedRead(t *testing.T) {
	checkNoFDLeak(t)
	path := tempFile(t, []byte("0123456789"))
	forEachDriver(t, func(t *testing.T, d *Driver) {
		fs := d.Files()
		f, err := fs.Open(path, FileRead)
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 4)
		var statuses []IOStatus
		var off int64
		var loop FileIOCallback
		loop = func(f File, st IOStatus, n int) {
			statuses = append(statuses, st)
			if st == IOStatusOK && len(statuses) < 100 {
				off += int64(n)
				fs.Read(f, off, buf, IOModeOnce, loop)
			}
		}
		fs.Read(f, 0, buf, IOModeOnce, loop)
		closed := CloseStatus(255)
		fs.Close(f, func(_ File, st CloseStatus) { closed = st })
		runUntil(t, d, "close", func() bool { return closed != 255 })
		if closed != CloseStatusOK {
			t.Errorf("close: %v", closed)
		}
		if len(statuses) != 2 || statuses[0] != IOStatusOK || statuses[1] != IOStatusNotAllowed {
			t.Errorf("read loop saw %v, want [%v %v]", statuses, IOStatusOK, IOStatusNotAllowed)
		}
		if n := d.Core().WaiterCount(); n != 0 {
			t.Errorf("WaiterCount %d after the close", n)
		}
		if r := d.Core().ProcessEvents(0); r != ExitOutOfWaiters {
			t.Errorf("ProcessEvents after the close: %v", r)
		}
		fs.ReleaseRef(f)
	})
}

//go:build unix

package eventcore

import (
	"errors"
	"os"
	"testing"
	"time"
)

func adoptPipe(t *testing.T, d *Driver) (r, w Pipe) {
	t.Helper()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	// The driver takes the descriptors over: detach them from *os.File.
	rfd, wfd := dupFD(t, pr), dupFD(t, pw)
	pr.Close()
	pw.Close()
	if r, err = d.Pipes().Adopt(rfd); err != nil {
		t.Fatal(err)
	}
	if w, err = d.Pipes().Adopt(wfd); err != nil {
		t.Fatal(err)
	}
	return r, w
}

func TestPipeExchangeAndClose(t *testing.T) {
	checkNoFDLeak(t)
	forEachDriver(t, func(t *testing.T, d *Driver) {
		p := d.Pipes()
		r, w := adoptPipe(t, d)
		buf := make([]byte, 16)

		var wait pipeResult
		p.WaitForData(r, wait.cb)
		runFor(d, 10*time.Millisecond)
		if wait.done {
			t.Fatal("WaitForData completed on an empty pipe")
		}
		var wr, rd pipeResult
		p.Write(w, []byte("through a pipe"), IOModeAll, wr.cb)
		runUntil(t, d, "data", func() bool { return wait.done })
		p.Read(r, buf, IOModeOnce, rd.cb)
		runUntil(t, d, "read", func() bool { return rd.done })
		if rd.status != IOStatusOK || string(buf[:rd.n]) != "through a pipe" {
			t.Fatalf("read %+v %q", rd, buf[:rd.n])
		}

		// Closing the writer ends the reader's stream.
		closed := CloseStatus(255)
		p.Close(w, func(_ Pipe, st CloseStatus) { closed = st })
		rd = pipeResult{}
		p.Read(r, buf, IOModeOnce, rd.cb)
		runUntil(t, d, "end of pipe", func() bool { return rd.done && closed != 255 })
		if rd.status != IOStatusDisconnected || closed != CloseStatusOK {
			t.Fatalf("after the writer closed: read %+v, close %v", rd, closed)
		}
		wr = pipeResult{}
		p.Write(w, []byte("x"), IOModeAll, wr.cb)
		if wr.status != IOStatusNotAllowed || !errors.Is(d.LastError(w), ErrClosed) {
			t.Fatalf("write after Close: %+v", wr)
		}
		closed = 255
		p.Close(w, func(_ Pipe, st CloseStatus) { closed = st })
		runUntil(t, d, "second close", func() bool { return closed != 255 })
		if closed != CloseStatusInvalidHandle {
			t.Fatalf("second Close: %v", closed)
		}
		p.ReleaseRef(w)
		p.ReleaseRef(r)
	})
}

func TestPipeCloseCompletesPendingRead(t *testing.T) {
	checkNoFDLeak(t)
	forEachDriver(t, func(t *testing.T, d *Driver) {
		p := d.Pipes()
		r, w := adoptPipe(t, d)
		var rd pipeResult
		p.Read(r, make([]byte, 4), IOModeOnce, rd.cb)
		p.Close(r, nil)
		if !rd.done || rd.status != IOStatusDisconnected || d.Core().WaiterCount() != 0 {
			t.Fatalf("read pending at Close: %+v", rd)
		}
		p.ReleaseRef(r)
		p.ReleaseRef(w)
	})
}

func TestPipeCancelAndBrokenPipe(t *testing.T) {
	checkNoFDLeak(t)
	forEachDriver(t, func(t *testing.T, d *Driver) {
		p := d.Pipes()
		r, w := adoptPipe(t, d)
		p.Read(r, make([]byte, 4), IOModeOnce, func(Pipe, IOStatus, int) { t.Error("cancelled read called") })
		p.CancelRead(r)
		var wr pipeResult
		p.Write(w, []byte("data"), IOModeAll, wr.cb)
		runFor(d, 10*time.Millisecond)
		// Fill the pipe, then cancel the write that waits for room.
		p.Write(w, make([]byte, 1<<20), IOModeAll, func(Pipe, IOStatus, int) { t.Error("cancelled write called") })
		p.CancelWrite(w)
		if d.Core().WaiterCount() != 0 {
			t.Fatal("cancelled operations still counted")
		}
		// With the reader gone, a write fails as disconnected.
		p.ReleaseRef(r)
		wr = pipeResult{}
		p.Write(w, []byte("nobody"), IOModeAll, wr.cb)
		runUntil(t, d, "broken pipe", func() bool { return wr.done })
		if wr.status != IOStatusDisconnected {
			t.Fatalf("write to a pipe without reader: %+v (%v)", wr, d.LastError(w))
		}
		p.ReleaseRef(w)
	})
}

func TestPipeAdoptErrors(t *testing.T) {
	checkNoFDLeak(t)
	forEachDriver(t, func(t *testing.T, d *Driver) {
		p := d.Pipes()
		r, w := adoptPipe(t, d)
		if _, err := p.Adopt(uintptr(d.l.fdEntry(r.h).v.fd)); !errors.Is(err, ErrAlreadyRegistered) {
			t.Errorf("adopting a pipe twice: %v", err)
		}
		f, err := os.CreateTemp(tempDir(t), "regular")
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := p.Adopt(f.Fd()); err == nil {
			t.Error("a regular file was adopted as a pipe")
		}
		var rd pipeResult
		p.Read(Pipe{}, nil, IOModeOnce, rd.cb)
		if rd.status != IOStatusInvalidHandle {
			t.Errorf("read on the zero Pipe: %+v", rd)
		}
		p.ReleaseRef(r)
		p.ReleaseRef(w)
	})
}

package eventcore

import (
	"errors"
	"slices"
	"testing"
)

type pipeResult struct {
	done   bool
	status IOStatus
	n      int
}

func (r *pipeResult) cb(_ Pipe, st IOStatus, n int) { *r = pipeResult{true, st, n} }

// reissuing returns a callback that records each status it gets and, as a
// read or write loop does, starts the next operation with start from the
// callback, until one is refused (or a limit, should refusals never come).
func reissuing(got *[]IOStatus, start func(PipeIOCallback)) PipeIOCallback {
	var cb PipeIOCallback
	cb = func(_ Pipe, st IOStatus, _ int) {
		*got = append(*got, st)
		if st != IOStatusNotAllowed && len(*got) < 10 {
			start(cb)
		}
	}
	return cb
}

// Close completes the operations pending on a pipe; an operation that
// their callbacks start, or that the close callback starts, is refused
// with IOStatusNotAllowed at once, instead of waiting on a descriptor that
// is gone and keeping ProcessEvents from ever running out of waiters.
func TestPipeCloseRefusesOperationsFromItsCallbacks(t *testing.T) {
	checkNoFDLeak(t)
	forEachDriver(t, func(t *testing.T, d *Driver) {
		p := d.Pipes()
		r, w := adoptPipe(t, d)
		buf := make([]byte, 16)
		big := make([]byte, 4<<20) // more than any pipe buffer: the write waits

		var reads, writes []IOStatus
		p.Read(r, buf, IOModeOnce, reissuing(&reads, func(cb PipeIOCallback) { p.Read(r, buf, IOModeOnce, cb) }))
		p.Write(w, big, IOModeAll, reissuing(&writes, func(cb PipeIOCallback) { p.Write(w, big, IOModeAll, cb) }))
		if len(reads) != 0 || len(writes) != 0 || d.Core().WaiterCount() != 2 {
			t.Fatalf("before Close: reads %v, writes %v, WaiterCount %d", reads, writes, d.Core().WaiterCount())
		}

		var later []pipeResult
		closed := 0
		onClose := func(pp Pipe, st CloseStatus) {
			if st != CloseStatusOK {
				t.Errorf("Close: %v (%v)", st, d.LastError(pp))
			}
			closed++
			var rd, wr pipeResult
			p.Read(pp, buf, IOModeOnce, rd.cb)
			p.Write(pp, buf, IOModeOnce, wr.cb)
			later = append(later, rd, wr)
		}
		p.Close(w, onClose) // the reader stays open: a new write would wait for room
		p.Close(r, onClose)
		want := []IOStatus{IOStatusDisconnected, IOStatusNotAllowed}
		if !slices.Equal(reads, want) || !slices.Equal(writes, want) {
			t.Fatalf("read loop got %v, write loop got %v; want %v", reads, writes, want)
		}
		if !errors.Is(d.LastError(r), ErrClosed) || !errors.Is(d.LastError(w), ErrClosed) {
			t.Errorf("LastError after refusals: %v, %v", d.LastError(r), d.LastError(w))
		}
		if n := d.Core().WaiterCount(); n != 0 {
			t.Fatalf("WaiterCount %d after Close", n)
		}
		runUntil(t, d, "close callbacks", func() bool { return closed == 2 })
		for _, res := range later {
			if !res.done || res.status != IOStatusNotAllowed {
				t.Errorf("operation from the close callback: %+v", res)
			}
		}
		if n := d.Core().WaiterCount(); n != 0 {
			t.Fatalf("WaiterCount %d after the close callbacks", n)
		}
		if x := d.Core().ProcessEvents(hangLimit); x != ExitOutOfWaiters {
			t.Fatalf("ProcessEvents after Close: %v", x)
		}
		p.ReleaseRef(r)
		p.ReleaseRef(w)
	})
}

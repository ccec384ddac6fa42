//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd

package eventcore

import (
	"errors"
	"os"
	"sync/atomic"
	"syscall"
	"time"
)

// runtimePark lets a poller whose own descriptor is pollable (an epoll or a
// kqueue descriptor) sleep in the Go runtime's poller rather than in a
// blocking system call: the loop's goroutine parks, its P stays free for
// other goroutines, and the thread sleeps in the runtime's own wait.
// Blocking in a system call instead makes sysmon take the P away from the
// blocked thread after 20 µs and wake every 20 µs meanwhile, which on a busy
// server costs more than the extra non-blocking wait of this scheme.
//
// Another goroutine wakes a parked loop with kick, which moves the read
// deadline into the past: the runtime makes the parked goroutine runnable
// directly, as a channel send does, with no system call and no trip through
// the runtime's poller. A kick that comes when the loop is not parked makes
// its next park return at once; the loop then sets the deadline again.
type runtimePark struct {
	file    *os.File
	conn    syscall.RawConn
	collect func(uintptr) bool // the poller's non-blocking wait

	// The read deadline as the loop last set it: has tells whether one is
	// set, until which. A kick, or a deadline that passed, leaves the
	// runtime's deadline elsewhere; stale says so, and the next park sets
	// it again.
	has, stale bool
	until      time.Time
	kicked     atomic.Bool // a kick is in flight and the loop has not seen it
}

// kickTime is a read deadline in the past, for kick.
var kickTime = time.Unix(1, 0)

// open registers fd, which must be non-blocking, with the runtime's poller.
// It reports false if the runtime refused it; the poller then blocks in its
// own system call.
func (r *runtimePark) open(fd int, name string, collect func(uintptr) bool) bool {
	f := os.NewFile(uintptr(fd), name)
	c, err := f.SyscallConn()
	if err != nil || f.SetReadDeadline(time.Time{}) != nil {
		// Not registered (os.NewFile found the descriptor not pollable):
		// the poller keeps it and closes it itself.
		r.file = f
		return false
	}
	r.file, r.conn, r.collect = f, c, collect
	return true
}

// parks reports whether the poller sleeps through park.
func (r *runtimePark) parks() bool { return r.conn != nil }

// park calls collect, and if it found nothing, sleeps until the descriptor
// becomes readable, timeout passes or a kick comes, then calls collect
// again unless it was a kick or the timeout. Infinite, or any timeout too
// long for a time.Time, sets no deadline.
func (r *runtimePark) park(timeout time.Duration) error {
	if timeout < time.Duration(1<<62) {
		now := time.Now()
		if dl := now.Add(timeout); r.stale || !r.has || dl.Before(r.until) || !now.Before(r.until) {
			// Moved only when it must come sooner: waking at an earlier
			// deadline than needed only makes the loop wait again.
			r.file.SetReadDeadline(dl)
			r.has, r.stale, r.until = true, false, dl
		}
	} else if r.has || r.stale {
		r.file.SetReadDeadline(time.Time{})
		r.has, r.stale = false, false
	}
	// A kick that landed before the deadline was set above was overwritten
	// by it; the flag it raised first is still up.
	if r.takeKick() {
		return nil
	}
	err := r.conn.Read(r.collect)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		r.kicked.Store(false)
		r.stale = true
		return nil
	}
	return err
}

// takeKick reports whether a kick came since the last park, and takes it.
func (r *runtimePark) takeKick() bool {
	if r.kicked.Swap(false) {
		r.stale = true
		return true
	}
	return false
}

// kick wakes a park in progress, or makes the next one return at once. It
// is safe from any goroutine, and must not be called after close.
func (r *runtimePark) kick() {
	r.kicked.Store(true)
	r.file.SetReadDeadline(kickTime)
}

// close closes the descriptor.
func (r *runtimePark) close() error { return r.file.Close() }

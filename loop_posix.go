//go:build unix

package eventcore

import (
	"runtime"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// sysLoop is the readiness-driver part of a loop, shared by every poller.
type sysLoop struct {
	p    poller
	lt   bool          // level-triggered poller: watched directions follow pending operations
	byFD fdMap[handle] // descriptor number → handle, to refuse adopting an fd twice

	// ready is the poller's last batch, rpos its cursor (see "Batches" in
	// loop.go).
	ready []readyEvent
	rpos  int

	rsa unix.RawSockaddrAny // scratch address for accept and receive

	// canHold: the poller can hold (see "Holding"); holdWaits: the loop's
	// rounds are short, and it holds; woke: when its last wait that could
	// sleep returned, 0 before the first; yielded: when it last yielded;
	// bound: its goroutine is locked to its thread (threadBound);
	// maxProcs: GOMAXPROCS as read at maxProcsAt (runtime.GOMAXPROCS takes
	// the scheduler's lock, so it is read again only holdMax later).
	canHold, holdWaits, bound bool
	woke, yielded             int64
	maxProcs                  int
	maxProcsAt                int64

	// trustReady: the poller's events describe each descriptor as it was
	// when the wait returned (see statePoller).
	trustReady bool
	// shortReadDrains: a short TCP read (without urgent data, the end or an
	// error seen) means the socket is empty, and the poller reports what
	// arrives next.
	shortReadDrains bool

	orphans       map[handle]orphanProc // released processes still to be reaped
	sigchldUsers  int                   // processes watched through SIGCHLD
	pollerExits   procWatcher           // the poller, if it watches process exits
	sends         sendRing              // the poller, if it sends by itself (fdio_ring.go)
	recvs         recvRing              // the poller, if it receives by itself (fdio_ringrecv.go)
	fileOps       fileRing              // the poller, if it does file I/O by itself (files_ring.go)
	noPidfd       bool                  // tests: do without pidfd where it works
	noPollerExits bool                  // tests: do without pollerExits

	watchState
}

func (l *loop) initPosix(p poller) {
	l.p = p
	l.lt = !p.edgeTriggered()
	if sp, ok := p.(statePoller); ok {
		l.trustReady = sp.reportsCurrentState()
		// Without urgent data reported, a level-triggered poller still
		// reports what a short read left; an edge-triggered one would not.
		l.shortReadDrains = sp.reportsUrgent() || l.lt
	}
	l.pollerExits, _ = p.(procWatcher)
	l.sends, _ = p.(sendRing)
	l.recvs, _ = p.(recvRing)
	l.fileOps, _ = p.(fileRing)
	l.canHold = p.canHold()
	_, l.bound = p.(threadBound)
	l.initWatchState()
	l.xq.wake = p.wake
}

// Holding. A loop that sleeps in the runtime's poller (park_runtime.go),
// or in a system call the scheduler knows of, pays for it on every sleep:
// the goroutine switch, the runtime's own wait, and the waits around it; or
// sysmon taking the P away from the blocked thread and handing it on. For
// long sleeps that is cheap; for short ones, a connection in ping-pong,
// it is most of the cost of a message. So while its rounds are short (a
// wait and the callbacks after it, wake-up to wake-up, under holdShort),
// and takeHold allows it, the loop sleeps in a plain system call that
// keeps its P, as a C loop does. It yields the P (runtime.Gosched) before
// such a sleep if it has not for yieldEvery, so that goroutines waiting
// for it run, and holds it for holdMax at most. A round that lasts
// holdShort or longer turns it back to the runtime's way, and one of those
// that ends sooner turns it to holding again. A loop woken by other
// goroutines does not hold (see "Spinning" in loop.go): their wake-ups
// are cheaper when it parks in the runtime. The clock is read once a
// round, as the wait returns.
//
// holdMax is longer than a scheduler tick on purpose: a wait whose timeout
// comes before the kernel's next tick makes it reprogram the CPU's timer
// when the wait starts and ends, which on a virtual machine costs about as
// much as the rest of the wake-up (4 µs a sleep, measured with a C
// ping-pong over eventfd: 16.6 µs with a 1 ms timeout, 12.5 µs with 10 ms
// or none). Only the sleep that ends a busy spell lasts that long.
//
// Two loops yield holdMax apart instead. One whose goroutine is locked to
// its thread (threadBound): its yield hands the P to another thread, which
// finds the loop's goroutine runnable and hands the P back, two thread
// wake-ups (ping-pong over iouring, 1 connection: two context switches a
// message with yieldEvery, one with holdMax, as the C io_uring server).
// And one with GOMAXPROCS 1: it holds only while its goroutine is the
// process's only one, so its yield serves only the runtime's own (the
// sweeper, the scavenger, finalizers), which can wait that long.
const (
	holdShort  = time.Millisecond
	holdMax    = 10 * time.Millisecond
	yieldEvery = 100 * time.Microsecond
)

// holders counts the loops of the process in a hold wait.
var holders atomic.Int32

// takeHold reports whether a loop may hold now: while it holds its P, that
// P runs nothing else, and the runtime's poller, which finds the
// goroutines whose sockets are ready, runs only on an idle P (or from
// sysmon every 10 ms). So the loops leave one P free; with GOMAXPROCS 1
// there is none to leave, and a loop holds only if it is the process's
// only goroutine. procs is GOMAXPROCS; counted tells whether a release
// is owed.
func takeHold(procs int) (ok, counted bool) {
	if procs == 1 {
		return runtime.NumGoroutine() == 1, false
	}
	if holders.Add(1) < int32(procs) {
		return true, true
	}
	holders.Add(-1)
	return false, false
}

func (l *loop) sysWait(timeout time.Duration) bool {
	hold, counted := false, false
	if l.holdWaits && l.spin == 0 && timeout > 0 { // holdWaits: canHold, woke is set
		if l.maxProcs == 0 || l.woke-l.maxProcsAt >= int64(holdMax) {
			l.maxProcs, l.maxProcsAt = runtime.GOMAXPROCS(0), l.woke
		}
		hold, counted = takeHold(l.maxProcs)
	}
	if hold && l.woke-l.yielded >= l.yieldGap() {
		runtime.Gosched()
		l.yielded = l.woke
	}
	t := l.sleepTimeout(timeout)
	if hold {
		t = min(t, holdMax)
	}
	evs, _ := l.p.wait(l.ready[:0], t, hold && t > 0)
	if counted {
		holders.Add(-1)
	}
	l.awake()
	if t > 0 && l.canHold {
		now := l.now()
		l.holdWaits = l.woke != 0 && now-l.woke < int64(holdShort)
		l.woke = now
	}
	l.ready, l.rpos = evs, 0
	got := l.serviceReady()
	return l.serviceDeferred(true) || got
}

// yieldGap is how long a holding loop goes without yielding its P (see
// "Holding").
func (l *loop) yieldGap() int64 {
	if l.bound || l.maxProcs == 1 {
		return int64(holdMax)
	}
	return int64(yieldEvery)
}

// serviceReady services the poller's batch from its cursor on.
func (l *loop) serviceReady() bool {
	got := false
	for l.rpos < len(l.ready) && !l.disposed {
		r := l.ready[l.rpos]
		l.rpos++
		got = true
		l.servicing = r.h
		l.onPolled(r.h, r.ev)
		l.serviced(r.h)
	}
	return got
}

// sysResume finishes the poller's batch (see loop.resume).
func (l *loop) sysResume() bool { return l.serviceReady() }

// sysService services a deferred handle.
func (l *loop) sysService(h handle) { l.onReady(h, evRead|evWrite) }

// sysPending: a readiness driver holds nothing back from the wait.
func (l *loop) sysPending() bool { return false }

func (l *loop) sysDispose() {
	l.disposeObjects()
	l.byFD = fdMap[handle]{}
	l.ready, l.rpos = nil, 0
	l.p.close()
}

// newFD registers fd with the poller under a new handle of kind k.
func (l *loop) newFD(k kind, fd int, flags fdFlags) (handle, *entry[fdObj], error) {
	h, e := l.fds.alloc(k)
	if e == nil {
		return 0, nil, ErrTooManyHandles
	}
	e.v.fd = int32(fd)
	e.v.flags = flags
	if err := l.p.add(fd, h); err != nil {
		l.fds.release(h, e)
		return 0, nil, err
	}
	l.setByFD(fd, h)
	return h, e, nil
}

func (l *loop) fdRegistered(fd int) bool { return l.byFD.get(fd) != 0 }

// adoptable checks what every Adopt checks first: the loop is live, fd is a
// descriptor number, and no handle of this loop owns it already.
func (l *loop) adoptable(fd uintptr) (int, error) {
	if l.disposed {
		return -1, ErrDisposed
	}
	ifd := int(fd)
	if ifd < 0 || uintptr(ifd) != fd {
		return -1, unix.EBADF
	}
	if l.fdRegistered(ifd) {
		return -1, ErrAlreadyRegistered
	}
	return ifd, nil
}

func (l *loop) setByFD(fd int, h handle) { *l.byFD.at(fd) = h }

func (l *loop) clearByFD(fd int, h handle) {
	if p := l.byFD.ptr(fd); p != nil && *p == h {
		*p = 0
	}
}

// closeSysFD closes the descriptor of e, leaving the entry.
func (l *loop) closeSysFD(e *entry[fdObj]) error {
	if e.v.fd < 0 {
		return nil
	}
	return unix.Close(int(l.detachSysFD(e)))
}

// detachSysFD unregisters the open descriptor of e, giving up a send the
// poller runs for it, and takes it from e, leaving it open.
func (l *loop) detachSysFD(e *entry[fdObj]) sysFD {
	fd := e.v.fd
	l.cancelSys(e, true)
	l.recvDrop(e)
	l.p.del(int(fd))
	if p := l.byFD.ptr(int(fd)); p != nil { // not yet there if registration failed
		*p = 0
	}
	e.v.fd = -1
	e.v.sys.interest = 0
	return fd
}

// syncInterest tells a level-triggered poller which directions of h have
// pending operations.
func (l *loop) syncInterest(h handle) {
	if !l.lt {
		return
	}
	e := l.fdEntry(h)
	if e == nil || e.v.fd < 0 {
		return
	}
	var want readyBits
	if e.v.rd.active && e.v.flags&fdPaused == 0 {
		want |= evRead
	}
	if e.v.wr.active {
		want |= evWrite
	}
	if want != e.v.sys.interest {
		if err := l.p.modify(int(e.v.fd), h, want); err == nil {
			e.v.sys.interest = want
		} else {
			e.setErr(err)
		}
	}
}

// onPolled takes what the poller reported for h, then services it.
func (l *loop) onPolled(h handle, ev readyBits) {
	if e := l.fdEntry(h); e != nil {
		x := &e.v.sys
		if ev&(evUrgent|evEnd|evError) != 0 {
			// Set before the read it could mislead, and for good: the
			// poller reports each of these once.
			x.readMore = true
		}
		if ev&(evRead|evError) != 0 {
			// The descriptor could be read when the wait returned. That
			// still holds unless a callback run for an earlier event of
			// this batch read it.
			x.rdState = rdUnknown
			if l.trustReady && x.readGen != l.waitGen {
				x.rdState = rdReadable
			}
		}
	}
	l.onReady(h, ev)
}

// onReady services the pending operations of h after the poller reported
// it, or when it was deferred.
func (l *loop) onReady(h handle, ev readyBits) {
	switch h.kind() {
	case kindProcess:
		l.procReady(h)
		return
	case kindWatcher, kindWatchNode:
		l.sysWatchReady(h)
		return
	case kindFile:
		l.fileDone(h)
		return
	}
	e := l.fdEntry(h)
	if e == nil {
		return
	}
	if ev&(evRead|evUrgent|evError) != 0 && e.v.rd.active {
		l.serviceRead(h, e)
		if e = l.fdEntry(h); e == nil {
			return
		}
	}
	if ev&(evWrite|evError) != 0 && e.v.wr.active {
		l.serviceWrite(h, e)
	}
	l.syncInterest(h)
}

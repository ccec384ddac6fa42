package eventcore

import (
	"math/rand/v2"
	"net"
	"os"
	"time"
)

// loop is the state every driver shares: handle tables, the timer heap, the
// waiter count, the cross-goroutine queue. What differs per OS mechanism is
// in the embedded sysLoop (loop_posix.go, loop_windows.go).
type loop struct {
	name     string
	disposed bool
	waiters  int // see Core.WaiterCount
	depth    int // nesting of callbacks on the stack, see maxSyncDepth
	epoch    time.Time
	exit     atomicFlag

	xq crossQueue

	timers     table[timerObj]
	timerHeap  []timerRef
	timerRound uint32

	events     table[eventObj]
	eventWaits table[waiter[EventCallback]]

	signals    table[signalObj]
	signalRefs map[os.Signal]int // listeners per signal, to (un)subscribe once

	leaks []HandleInfo // what Dispose found open

	workers    workerPool     // file work
	opening    []*fileOpenJob // OpenAsync jobs not yet finished, for Dispose
	dnsWorkers workerPool     // DNS lookups
	lookups    table[dnsObj]
	resolver   *net.Resolver

	// What each driver family implements in its own way, in tables kept
	// here so that handle lookups and the leak report are written once.
	fds       table[fdObj] // sockets and pipes
	files     table[fileObj]
	procs     table[processObj]
	procWaits table[waiter[ProcessExitCallback]]
	watchers  table[watcherObj]

	sysLoop
}

// maxSyncDepth bounds how deeply an operation that could complete at once
// may run its callback synchronously inside another callback; deeper
// operations complete from the loop instead, so a peer that always has data
// ready cannot grow the stack without bound.
const maxSyncDepth = 8

func newLoop(name string) *loop {
	l := &loop{name: name, epoch: time.Now()}
	salt := rand.Uint32()
	l.timers.salt = salt
	l.events.salt = salt
	l.eventWaits.salt = salt
	l.signals.salt = salt
	l.lookups.salt = salt
	l.fds.salt = salt
	l.files.salt = salt
	l.procs.salt = salt
	l.procWaits.salt = salt
	l.watchers.salt = salt
	l.workers = workerPool{max: DefaultWorkers, xq: &l.xq}
	l.dnsWorkers = workerPool{max: DefaultDNSWorkers, xq: &l.xq}
	l.resolver = net.DefaultResolver
	return l
}

// now is the loop's monotonic clock in nanoseconds.
func (l *loop) now() int64 { return int64(time.Since(l.epoch)) }

// header returns the common part of the live entry h names, nil if none.
func (l *loop) header(h handle) *header {
	if l.disposed {
		return nil
	}
	switch h.kind() {
	case kindTimer:
		if e := l.timers.get(h, kindTimer); e != nil {
			return &e.header
		}
	case kindEvent:
		if e := l.events.get(h, kindEvent); e != nil {
			return &e.header
		}
	case kindEventWait:
		if e := l.eventWaits.get(h, kindEventWait); e != nil {
			return &e.header
		}
	case kindSignal:
		if e := l.signals.get(h, kindSignal); e != nil {
			return &e.header
		}
	case kindDNSLookup:
		if e := l.lookups.get(h, kindDNSLookup); e != nil {
			return &e.header
		}
	case kindStreamSocket, kindStreamListener, kindDatagramSocket, kindPipe:
		if e := l.fdEntry(h); e != nil {
			return &e.header
		}
	case kindFile:
		if e := l.files.get(h, kindFile); e != nil {
			return &e.header
		}
	case kindProcess:
		if e := l.procs.get(h, kindProcess); e != nil {
			return &e.header
		}
	case kindProcessWait:
		if e := l.procWaits.get(h, kindProcessWait); e != nil {
			return &e.header
		}
	case kindWatcher:
		if e := l.watchers.get(h, kindWatcher); e != nil {
			return &e.header
		}
	}
	return nil
}

// run is Core.ProcessEvents.
func (l *loop) run(timeout time.Duration) ExitReason {
	l.depth = 0
	if l.disposed {
		return ExitOutOfWaiters
	}
	got := l.drainCross()
	if l.exit.take() {
		return ExitExited
	}
	if l.waiters == 0 {
		return ExitOutOfWaiters
	}
	end := deadlineAfter(l.now(), timeout)
	for {
		now := l.now()
		wait := time.Duration(0)
		// Once callbacks have run, only collect what is ready: blocking
		// would hold back the return that reports them (and could wait
		// forever for an event the callbacks were the last of).
		if timeout > 0 && !got {
			wait = min(l.nextTimerWait(now), waitUntil(now, end))
		}
		got = l.sysWait(wait) || got
		got = l.drainCross() || got
		got = l.fireTimers(l.now()) || got
		if l.exit.load() || l.waiters == 0 || got || l.disposed {
			break
		}
		if l.now() >= end {
			break
		}
	}
	switch {
	case l.exit.take():
		return ExitExited
	case l.waiters == 0 || l.disposed:
		return ExitOutOfWaiters
	case got:
		return ExitIdle
	}
	return ExitTimeout
}

// sleepTimeout is what the backend may block for: zero when work is
// already queued. It marks the loop as sleeping first (see wakeup.go).
func (l *loop) sleepTimeout(wait time.Duration) time.Duration {
	if wait <= 0 {
		return 0
	}
	l.xq.sleeping.Store(true)
	if l.xq.n.Load() > 0 || l.exit.load() || l.sysPending() {
		return 0
	}
	return wait
}

// awake undoes sleepTimeout once the backend returned.
func (l *loop) awake() {
	l.xq.sleeping.Store(false)
	l.xq.woken.Store(false)
}

// drainCross runs what other goroutines queued; it reports whether there
// was anything.
func (l *loop) drainCross() bool {
	items := l.xq.take()
	for i := range items {
		it := &items[i]
		switch it.op {
		case crossRun:
			l.depth++
			it.fn()
			l.depth--
		case crossTrigger, crossTriggerAll:
			l.triggerEvent(it.h, it.op == crossTriggerAll)
		case crossSignal:
			l.deliverSignal(it.sig)
		case crossJob:
			it.job.finish(l)
		}
		if l.disposed {
			return true
		}
	}
	clear(items)
	return len(items) > 0
}

// dispose frees every resource; it returns whether none was still open.
func (l *loop) dispose() bool {
	if l.disposed {
		return len(l.leaks) == 0
	}
	l.leaks = l.openHandles()
	l.xq.close()
	l.workers.close()
	l.dnsWorkers.close()
	l.disposeLookups()
	l.disposeSignals()
	l.timers = table[timerObj]{}
	l.timerHeap = nil
	l.events = table[eventObj]{}
	l.eventWaits = table[waiter[EventCallback]]{}
	l.sysDispose()
	l.waiters = 0
	l.disposed = true
	return len(l.leaks) == 0
}

// HandleInfo describes a handle that is still open: see [Driver.OpenHandles].
type HandleInfo struct {
	Kind   string // the handle's type, e.g. "StreamSocket"
	Handle string // the handle as its String method prints it
	Refs   int    // its reference count
}

func (l *loop) openHandles() []HandleInfo {
	var out []HandleInfo
	add := func(h handle, hd *header) {
		out = append(out, HandleInfo{Kind: h.kind().String(), Handle: h.kind().String() + "(" + h.format() + ")", Refs: int(hd.refs)})
	}
	l.timers.each(func(h handle, e *entry[timerObj]) {
		if e.kind == kindTimer {
			add(h, &e.header)
		}
	})
	l.events.each(func(h handle, e *entry[eventObj]) { add(h, &e.header) })
	l.signals.each(func(h handle, e *entry[signalObj]) { add(h, &e.header) })
	l.lookups.each(func(h handle, e *entry[dnsObj]) { add(h, &e.header) })
	l.fds.each(func(h handle, e *entry[fdObj]) { add(h, &e.header) })
	l.files.each(func(h handle, e *entry[fileObj]) { add(h, &e.header) })
	l.procs.each(func(h handle, e *entry[processObj]) { add(h, &e.header) })
	l.watchers.each(func(h handle, e *entry[watcherObj]) { add(h, &e.header) })
	return out
}

// callIO runs an I/O callback of any handle kind, counting the nesting
// depth; a nil callback is skipped.
func (l *loop) callIO(cb any, h handle, st IOStatus, n int, addr Addr) {
	l.depth++
	switch cb := cb.(type) {
	case IOCallback:
		if cb != nil {
			cb(StreamSocket{h}, st, n)
		}
	case DatagramIOCallback:
		if cb != nil {
			cb(DatagramSocket{h}, st, n, addr)
		}
	case PipeIOCallback:
		if cb != nil {
			cb(Pipe{h}, st, n)
		}
	case FileIOCallback:
		if cb != nil {
			cb(File{h}, st, n)
		}
	}
	l.depth--
}

// maxWait is the longest a wait blocks when the loop asks for a finite
// timeout: poll(2), epoll_wait(2) and MsgWaitForMultipleObjectsEx count
// milliseconds in 31 or 32 bits. A longer timeout just makes the loop wait
// again.
const maxWait = (1<<31 - 1) * time.Millisecond

// waitMillis converts a wait's timeout to milliseconds, rounding up so that
// a timer is never woken for early; Infinite gives -1 (INFINITE as a
// DWORD).
func waitMillis(timeout time.Duration) int {
	switch {
	case timeout <= 0:
		return 0
	case timeout == Infinite:
		return -1
	case timeout >= maxWait:
		return int(maxWait / time.Millisecond)
	}
	return int((timeout + time.Millisecond - 1) / time.Millisecond)
}

// disposeObjects frees the sockets, pipes, files, processes and watchers,
// the family's way, for Dispose.
func (l *loop) disposeObjects() {
	l.fds.each(func(h handle, e *entry[fdObj]) { l.closeFD(h, e) })
	l.files.each(func(h handle, e *entry[fileObj]) { l.fileFree(h, e) })
	l.disposeOpens()
	l.disposeProcs()
	l.disposeWatchers()
	l.fds = table[fdObj]{}
	l.files = table[fileObj]{}
	l.procs = table[processObj]{}
	l.procWaits = table[waiter[ProcessExitCallback]]{}
	l.watchers = table[watcherObj]{}
}

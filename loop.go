package eventcore

import (
	"math/rand/v2"
	"net"
	"os"
	"runtime"
	"time"
)

// loop is the state every driver shares: handle tables, the timer heap, the
// waiter count, the cross-goroutine queue. What differs per OS mechanism is
// in the embedded sysLoop (loop_posix.go, loop_windows.go).
type loop struct {
	// xq is written by other goroutines: the padding keeps the loop's own
	// fields off its cache lines. It comes first because the nil check of
	// the loop pointer on the way to xq (Trigger, RunInOwnerThread) reads
	// the struct's first bytes: they are padding no one writes, so that
	// read costs another goroutine no cache miss however busy the loop.
	_  [128]byte
	xq crossQueue
	_  [128]byte

	name     string
	disposed bool
	waiters  int   // see Core.WaiterCount
	depth    int   // nesting of callbacks on the stack, see maxSyncDepth
	running  int   // ProcessEvents calls on the stack (a callback may call it)
	epoch    int64 // nanotime at creation
	exit     atomicFlag
	owner    ownerCheck // the checked mode's record of the owner goroutine
	tag      uint8      // carried by every handle of the loop (loopTags)
	ownTag   bool       // tag is the loop's alone, to be given back

	// spin is how many times the loop yields before it sleeps, polledAt
	// when it last polled its descriptors, 0 if not known yet (see
	// "Spinning").
	spin     int
	polledAt int64
	// waitGen counts the backend's waits; on a readiness driver, a
	// descriptor read since the latest one may no longer be as that wait
	// reported it.
	waitGen uint32

	// deferred holds the handles to service from the loop rather than
	// synchronously (see maxSyncDepth), or to look at again; db is the
	// batch of them being serviced, di its cursor.
	deferred, db []handle
	di           int
	// servicing is the handle whose service (readiness, a completion, a
	// deferred look) is under way, 0 when none.
	servicing handle
	// posted holds the callbacks the loop queued for itself, to run from
	// ProcessEvents rather than before the call that queued them returns
	// (a Close's); pi is the cursor. They stay off xq, which other
	// goroutines and a group's other loops share under a lock.
	posted []func()
	pi     int

	wake    wakeAll     // a wake-up of every waiter of an event or a process, under way
	sigd    sigDelivery // a signal's delivery to its listeners, under way
	changes changeQueue // directory changes found and not yet reported

	timers     table[timerObj]
	timerHeap  []timerRef
	timerRound uint32

	events     table[eventObj]
	eventWaits table[waiter[EventCallback]]

	signals    table[signalObj]
	signalRefs map[os.Signal]int // listeners per signal, to (un)subscribe once
	sigSeq     uint64            // the number of the next listener

	leaks []HandleInfo // what Dispose found open

	workers    workerPool     // file work
	opening    []*fileOpenJob // OpenAsync jobs not yet finished, for Dispose
	dnsWorkers workerPool     // DNS lookups
	lookups    table[dnsObj]
	resolver   *net.Resolver

	loans loans // buffers for loaned reads

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
	l := &loop{name: name, epoch: nanotime(), owner: newOwnerCheck()}
	l.xq.init()
	l.tag, l.ownTag = takeLoopTag()
	salt := rand.Uint32()
	initTable(&l.timers, l.tag, salt, l.owner)
	initTable(&l.events, l.tag, salt, l.owner)
	initTable(&l.eventWaits, l.tag, salt, l.owner)
	initTable(&l.signals, l.tag, salt, l.owner)
	initTable(&l.lookups, l.tag, salt, l.owner)
	initTable(&l.fds, l.tag, salt, l.owner)
	initTable(&l.files, l.tag, salt, l.owner)
	initTable(&l.procs, l.tag, salt, l.owner)
	initTable(&l.procWaits, l.tag, salt, l.owner)
	initTable(&l.watchers, l.tag, salt, l.owner)
	l.workers = workerPool{max: DefaultWorkers, xq: &l.xq}
	l.dnsWorkers = workerPool{max: DefaultDNSWorkers, xq: &l.xq}
	l.resolver = net.DefaultResolver
	l.loans.size = DefaultLoanSize
	return l
}

// now is the loop's monotonic clock in nanoseconds.
func (l *loop) now() int64 { return nanotime() - l.epoch }

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
	if l.disposed {
		return ExitOutOfWaiters
	}
	defer l.leave(l.enter())
	got := l.resume()
	got = l.drainCross() || got
	got = l.runPosted() || got
	if l.exit.take() {
		return ExitExited
	}
	if l.waiters == 0 {
		return ExitOutOfWaiters
	}
	end := int64(never)
	if timeout != Infinite {
		end = deadlineAfter(l.now(), timeout)
	}
	for {
		wait := time.Duration(0)
		// Once callbacks have run, only collect what is ready: blocking
		// would hold back the return that reports them (and could wait
		// forever for an event the callbacks were the last of).
		if timeout > 0 && !got {
			wait = Infinite
			if len(l.timerHeap) > 0 || end != never {
				now := l.now()
				wait = min(l.nextTimerWait(now), waitUntil(now, end))
			}
		}
		poll := true
		var spun, slept int64 // how long a spin that found nothing took, and when it ended
		switch {
		case wait > 0 && l.spin > 0:
			// The clock is read first, to keep it off the path from the
			// work's arrival to its callback.
			now := l.now()
			if l.yieldForWork() {
				wait, poll = 0, !l.polledSince(now)
			} else {
				slept = l.now()
				spun = slept - now
			}
		case got && timeout > 0:
			poll = !l.polledSince(l.now())
		}
		if poll {
			l.polledAt = 0
			l.waitGen++
			polled := l.sysWait(wait)
			if wait > 0 {
				l.adaptSpin(!polled && l.xq.pending.Load(), spun, slept)
			}
			got = polled || got
		}
		got = l.drainCross() || got
		got = l.runPosted() || got
		if len(l.timerHeap) > 0 {
			got = l.fireTimers(l.now()) || got
		}
		if l.exit.load() || l.waiters == 0 || got || l.disposed {
			break
		}
		if end != never && l.now() >= end {
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
	if l.xq.pending.Load() || l.exit.load() || len(l.deferred) > 0 || l.pi < len(l.posted) || l.sysPending() {
		return 0
	}
	return wait
}

// Spinning. A loop that another goroutine wakes often (a producer feeding
// it with Trigger or RunInOwnerThread) would go to sleep and be woken for
// every item; each sleep and wake-up costs system calls and goroutine
// switches, far more than handing the item over. So when the loop's last
// sleep was ended by such work, before it sleeps again it yields its P a
// few times (runtime.Gosched, which also lets a producer on the same P
// run) and looks for work in between. How many times adapts (adaptSpin):
// it doubles, up to maxSpin, when the work that ended a sleep came soon
// enough that a spin twice as long would have found it, and halves
// otherwise. A loop woken by its descriptors and timers, a server's, does
// not spin; one that other goroutines wake seldom soon stops spinning.
const (
	minSpin = 4
	maxSpin = 32
	// maxPollGap: work from other goroutines runs before the descriptors
	// are polled again, unless they were last polled this long ago, so
	// that a stream of such work cannot hold back I/O for longer.
	maxPollGap = int64(200 * time.Microsecond)
)

// polledSince reports whether the descriptors were polled less than
// maxPollGap before now. The time of a poll is taken the first time this
// asks (polledAt is 0 until then), which keeps the clock out of loops that
// never ask; the gap it measures is short by the callbacks run in between.
func (l *loop) polledSince(now int64) bool {
	if l.polledAt == 0 {
		l.polledAt = now
		return true
	}
	return now-l.polledAt < maxPollGap
}

// yieldForWork spins (see "Spinning"); it reports whether work came.
func (l *loop) yieldForWork() bool {
	for range l.spin {
		runtime.Gosched()
		if l.xq.pending.Load() || l.exit.load() {
			return true
		}
	}
	return false
}

// adaptSpin adapts the spin after a sleep: cross tells whether work from
// another goroutine ended it; a spin that found nothing before it took
// spun, and ended at slept (the loop's clock). The spin doubles when
// spinning twice as long would have found the work, and halves otherwise.
func (l *loop) adaptSpin(cross bool, spun, slept int64) {
	switch {
	case !cross:
		l.spin /= 2
	case l.spin == 0:
		l.spin = minSpin
	case l.now()-slept <= spun:
		l.spin = min(2*l.spin, maxSpin)
	default:
		l.spin /= 2
	}
}

// awake undoes sleepTimeout once the backend returned.
func (l *loop) awake() {
	l.xq.sleeping.Store(false)
	l.xq.woken.Store(false)
}

// Batches. Whatever the loop works through, one item after another with
// callbacks in between, it keeps in its state with a cursor, never in a
// local variable: the cross-goroutine items (in xq), the callbacks the loop
// posted itself, the poller's ready events and the deferred handles (db),
// Windows's completions, the waiters of an event or a process being woken
// (wake), the listeners of a signal being delivered (sigd), the directory
// changes being reported (changes). The cursor moves past an item before
// the item's callback runs. So when a callback panics and the panic is
// recovered around ProcessEvents (as a Go server recovers a handler's
// panic), the rest of the batch is still there, and the next ProcessEvents
// delivers it first (resume); and when a callback calls ProcessEvents, that
// call first finishes the batch the callback is part of, then waits anew,
// and the outer iteration finds its cursor at the end. A readiness service
// interrupted by a panic (the write side of an event whose read callback
// panicked, the connections still queued behind a panicking accept
// callback) is deferred, to be looked at again: servicing a handle more
// often than needed is harmless, the services make non-blocking calls only.

// enter and leave bracket ProcessEvents; leave is deferred, so that a panic
// leaves running and depth right. enter returns the depth to restore.
// A top-level ProcessEvents has no callback of this loop on the stack below
// it, except one that called it from a call outside the loop (a Stop
// calling its timer's wait): it starts from depth 0, and ends at 0, which
// also drops what a panic in such a call, recovered outside, left behind.
func (l *loop) enter() int {
	l.owner.run()
	depth := l.depth
	if l.running == 0 {
		l.depth, depth = 0, 0
	}
	l.running++
	return depth
}

func (l *loop) leave(depth int) {
	l.running--
	l.depth = depth
	l.owner.left()
}

// resume finishes the batches a panicking callback interrupted, or that a
// callback calling ProcessEvents is part of, innermost first; it reports
// whether callbacks ran.
func (l *loop) resume() bool {
	got := l.finishWake()
	got = l.finishSignal() || got
	got = l.reportChanges() || got
	got = l.runCross() || got
	got = l.runPosted() || got
	if h := l.servicing; h != 0 {
		l.servicing = 0
		l.deferService(h)
	}
	got = l.sysResume() || got
	return l.serviceDeferred(false) || got
}

// drainCross runs the rest of the cross-goroutine batch, then what other
// goroutines queued since; it reports whether there was anything.
func (l *loop) drainCross() bool {
	got := l.runCross()
	if !l.disposed && l.xq.take() {
		got = l.runCross() || got
	}
	return got
}

// runCross runs the cross-goroutine batch from its cursor on (the queue
// keeps the cursor, see "Batches").
func (l *loop) runCross() bool {
	ran := false
	for !l.disposed && !l.xq.batchDone() {
		it := l.xq.peek()
		if it == nil {
			break
		}
		ran = true
		if it.reps > 1 {
			it.reps--
			l.triggerEvent(it.h, it.op == crossTriggerAll)
			continue
		}
		x := *it
		l.xq.advance()
		switch x.op {
		case crossRun:
			l.depth++
			x.x.(func())()
			l.depth--
		case crossTrigger, crossTriggerAll:
			l.triggerEvent(x.h, x.op == crossTriggerAll)
		case crossSignal:
			l.deliverSignal(x.x.(os.Signal))
		case crossJob:
			x.x.(job).finish(l)
		}
	}
	return ran
}

// post queues fn to run from the loop's ProcessEvents, after what it is
// running now.
func (l *loop) post(fn func()) { l.posted = append(l.posted, fn) }

// runPosted runs the posted callbacks from the cursor on, those they post
// included; it reports whether there were any.
func (l *loop) runPosted() bool {
	ran := false
	for l.pi < len(l.posted) && !l.disposed {
		fn := l.posted[l.pi]
		l.posted[l.pi] = nil
		l.pi++
		ran = true
		l.depth++
		fn()
		l.depth--
	}
	if l.pi == len(l.posted) {
		l.posted, l.pi = l.posted[:0], 0
	}
	return ran
}

// deferService has h serviced from the loop, after what is ready now.
func (l *loop) deferService(h handle) { l.deferred = append(l.deferred, h) }

// serviceDeferred services the deferred handles: the rest of the batch
// under way, and then, if more is true, those deferred since. It reports
// whether there were any.
func (l *loop) serviceDeferred(more bool) bool {
	got := false
	for !l.disposed {
		if l.di == len(l.db) {
			if !more || len(l.deferred) == 0 {
				break
			}
			more = false // those deferred by this round wait for the next
			l.db, l.deferred, l.di = l.deferred, l.db[:0], 0
		}
		h := l.db[l.di]
		l.di++
		got = true
		l.service(h)
	}
	return got
}

// service runs the pending operations of h, from the loop, recording that
// it does (see "Batches").
func (l *loop) service(h handle) {
	l.servicing = h
	l.sysService(h)
	l.serviced(h)
}

// serviced ends the service of h, and reports the directory changes it
// found.
func (l *loop) serviced(h handle) {
	if l.servicing == h {
		l.servicing = 0
	}
	if l.changes.pos < len(l.changes.items) {
		l.reportChanges()
	}
}

// wakeAll is a wake-up of every waiter of an event (TriggerAll) or of a
// process (its exit) under way: the waiters added from sequence number
// limit on, by the callbacks among others, are not woken by it.
type wakeAll struct {
	h     handle // the event or the process; 0 when none
	limit uint32
}

// startWake wakes every waiter of list, the waits of h. One wake-up is under
// way at a time: one left unfinished is finished first.
func (l *loop) startWake(h handle, list *waitList) {
	if list.head == 0 {
		return
	}
	l.finishWake()
	l.wake = wakeAll{h: h, limit: list.seq}
	l.finishWake()
}

// finishWake runs the rest of the wake-up under way; it reports whether
// callbacks ran.
func (l *loop) finishWake() bool {
	ran := false
	for l.wake.h != 0 && !l.disposed {
		if !l.wakeOne(l.wake.h, l.wake.limit) {
			l.wake = wakeAll{}
			break
		}
		ran = true
	}
	return ran
}

// wakeOne takes the oldest waiter of h added before limit off its list and
// calls it; it reports false when there is none.
func (l *loop) wakeOne(h handle, limit uint32) bool {
	switch h.kind() {
	case kindEvent:
		return l.wakeEventWaiter(h, limit)
	case kindProcess:
		return l.wakeExitWaiter(h, limit)
	}
	return false
}

// dispose frees every resource; it returns whether none was still open.
func (l *loop) dispose() bool {
	if l.disposed {
		return len(l.leaks) == 0
	}
	l.owner.dispose()
	l.leaks = l.openHandles()
	l.xq.close()
	l.deferred, l.db, l.di = nil, nil, 0
	l.posted, l.pi = nil, 0
	l.wake, l.sigd = wakeAll{}, sigDelivery{}
	l.changes = changeQueue{}
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
	if l.ownTag {
		giveLoopTag(l.tag)
	}
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
		if e.kind() == kindTimer {
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
	case LoanCallback:
		if cb != nil {
			cb(StreamSocket{h}, st, nil)
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

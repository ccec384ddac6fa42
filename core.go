package eventcore

import (
	"math"
	"sync/atomic"
	"time"
)

// Infinite is the duration that never ends: passed to [Core.ProcessEvents]
// it waits until an event arrives, and as a timeout or repeat of
// [Timers.Set] it means never. The loop's clock counts nanoseconds from the
// driver's creation in an int64, so it ends about 292 years later; every
// duration the loop adds to it saturates there, so a duration that would
// reach past the end (Infinite, or one close to it) behaves as Infinite,
// never as a deadline that wrapped into the past.
const Infinite = time.Duration(math.MaxInt64)

// Core is the event loop itself: [Driver.Core] returns it.
//
// Except for Exit and RunInOwnerThread, which any goroutine may call, Core's
// methods belong to the loop's owner: the goroutine that runs ProcessEvents
// (see [Driver] for how to have calls from other goroutines reported).
type Core struct{ l *loop }

// WaiterCount returns the number of things that keep the loop alive: every
// armed timer (set, and neither fired, if one-shot, nor stopped, whether
// waited on or not), every pending read, write, connect, receive and send,
// every listening socket waiting for connections, every event wait and every
// signal listener. Handles that merely exist do not count. When it is zero,
// no callback can run until a new one is registered, and ProcessEvents
// returns ExitOutOfWaiters at once.
func (c Core) WaiterCount() int {
	c.l.owner.check(kindNone)
	return c.l.waiters
}

// ProcessEvents runs the loop: it waits up to timeout for something to
// happen, runs the callbacks of what did, and returns.
//
// A timeout of 0 (or a negative one, which counts as 0) only processes what
// is already pending; [Infinite], like any timeout that would reach past the
// end of the loop's clock, waits as long as it takes. The result is
// ExitExited if Exit was called (before or during the call; the flag is then
// cleared), ExitOutOfWaiters if WaiterCount is (or dropped to) zero, ExitIdle
// if callbacks ran, and ExitTimeout if the timeout elapsed with nothing to
// do. Functions queued by RunInOwnerThread run first, even with no waiters.
//
// A callback may call ProcessEvents (re-entrantly, on the owner goroutine).
// The nested call first finishes the batch the calling callback is part
// of (the other functions queued with it, the other operations completed
// with it, the other waiters of the event or process it was woken with,
// the other listeners of its signal), then waits and runs new events as
// any ProcessEvents does, up to its own timeout; when it returns, the
// outer call goes on with what came after, and no callback runs twice.
//
// A callback that panics leaves the loop consistent: the panic goes up
// through ProcessEvents to its caller, and if that caller recovers it (as
// a Go server recovers a handler's panic), the next ProcessEvents first
// delivers the rest of the batch the panic interrupted. Nothing is lost and
// no counter is left wrong. (A window procedure on Windows is the
// exception: it runs inside DispatchMessage, a frame a Go panic cannot
// cross.)
//
// How it waits, which matters with few Ps (GOMAXPROCS): a long wait parks
// the goroutine (on epoll and kqueue in the runtime's own poller), so its P
// runs other goroutines meanwhile. While other goroutines wake the loop
// often, it first yields its P a few times (runtime.Gosched), looking for
// their work in between. While its rounds are short (a wait and the
// callbacks after it under a millisecond: a connection in ping-pong),
// epoll and poll on Linux wait in the system call itself, keeping the P
// (yielded first if it has not been in the last 100 µs, so that runnable
// goroutines run; 10 ms with GOMAXPROCS 1); such a wait lasts 10 ms at
// most, and a round that lasts a millisecond or more returns the loop to
// parking. Loops wait so only while that leaves a P free for the rest of
// the process; with GOMAXPROCS 1, only when the loop's goroutine is the
// process's only one.
//
// On Windows it also dispatches the calling thread's window messages while
// it waits, and a WM_QUIT makes it return ExitExited (see the package
// documentation, "Windows").
func (c Core) ProcessEvents(timeout time.Duration) ExitReason { return c.l.run(timeout) }

// Exit makes ProcessEvents return ExitExited as soon as possible: a call in
// progress is woken; with none in progress, the next call returns at once.
// Exit may be called from any goroutine.
func (c Core) Exit() {
	c.l.exit.set()
	c.l.xq.kick()
}

// ClearExitFlag undoes an Exit that no ProcessEvents has consumed yet.
func (c Core) ClearExitFlag() { c.l.exit.take() }

// RunInOwnerThread queues fn to run on the loop's owner goroutine, from
// ProcessEvents, and wakes the loop. It may be called from any goroutine;
// fn runs once, after the functions queued before it. fn does not count as a
// waiter: ProcessEvents runs it on its next call even when WaiterCount is
// zero. Functions queued after Dispose are dropped.
func (c Core) RunInOwnerThread(fn func()) {
	if fn != nil {
		c.l.xq.push(crossItem{op: crossRun, x: fn})
	}
}

// atomicFlag is a flag set by any goroutine and consumed by the owner.
type atomicFlag struct{ v atomic.Bool }

func (f *atomicFlag) set()       { f.v.Store(true) }
func (f *atomicFlag) load() bool { return f.v.Load() }
func (f *atomicFlag) take() bool { return f.v.Load() && f.v.CompareAndSwap(true, false) }

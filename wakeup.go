package eventcore

import (
	"os"
	"sync"
	"sync/atomic"
)

// The cross-goroutine path: everything another goroutine may ask of a loop
// (RunInOwnerThread, Events.Trigger, Exit, a received signal) goes through
// one queue, and the loop is woken only when it sleeps in the kernel and no
// wake-up is already on its way. The loop sets sleeping before it checks the
// queue and blocks; a producer appends before it reads sleeping; with
// sequentially consistent atomics one of them always sees the other.

type crossOp uint8

const (
	crossRun crossOp = iota
	crossTrigger
	crossTriggerAll
	crossSignal
	crossJob
)

type crossItem struct {
	op  crossOp
	h   handle
	fn  func()
	sig os.Signal
	job job
}

type crossQueue struct {
	mu       sync.Mutex
	items    []crossItem
	closed   bool
	n        atomic.Int32 // len(items), read without the lock
	sleeping atomic.Bool  // the loop is (about to be) blocked in the kernel
	woken    atomic.Bool  // a wake-up is in flight and not yet consumed
	wake     func()       // the backend's wake-up, called under mu
}

func (q *crossQueue) push(it crossItem) {
	q.mu.Lock()
	if !q.closed {
		q.items = append(q.items, it)
		q.n.Add(1)
		q.kickLocked()
	}
	q.mu.Unlock()
}

// kick wakes the loop if it sleeps, without queueing anything.
func (q *crossQueue) kick() {
	q.mu.Lock()
	if !q.closed {
		q.kickLocked()
	}
	q.mu.Unlock()
}

func (q *crossQueue) kickLocked() {
	if q.sleeping.Load() && q.woken.CompareAndSwap(false, true) {
		q.wake()
	}
}

// take hands the queued items to the loop, and takes spare, an empty
// slice the loop is done with, to queue the next ones in: the loop keeps
// the items until it has run every one (loop.drainCross), so two slices
// take turns and steady-state queueing allocates nothing. It returns nil
// when nothing is queued.
func (q *crossQueue) take(spare []crossItem) []crossItem {
	if q.n.Load() == 0 {
		return nil
	}
	q.mu.Lock()
	items := q.items
	if !q.closed {
		q.items = spare
	}
	q.n.Store(0)
	q.mu.Unlock()
	return items
}

// close drops every later push; after it returns the wake-up function is
// never called again, so the backend may close its descriptors.
func (q *crossQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.items = nil
	q.n.Store(0)
	q.mu.Unlock()
}

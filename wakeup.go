package eventcore

import (
	"math"
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

// crossItem is one thing asked of the loop. x is what op needs: the
// function of crossRun, the os.Signal of crossSignal, the job of crossJob.
// A trigger pushed right behind a trigger of the same event and kind is
// counted in that one (reps): running them one after another is what the
// loop would do with two items, and a goroutine that triggers faster than
// the loop runs the waits then grows no queue.
type crossItem struct {
	op   crossOp
	reps uint32 // how many times to do it; 1 when pushed
	h    handle
	x    any
}

// The queue is a list of fixed-size chunks, so that a producer that runs
// ahead of the loop only adds chunks: nothing queued is ever copied, and
// no allocation grows with the backlog. The loop takes the whole list at
// once and gives the chunks it has run back with its next take; a few of
// them are kept for later pushes.
const (
	crossChunkLen = 128
	maxFreeChunks = 8
)

type crossChunk struct {
	items [crossChunkLen]crossItem
	n     int // items[:n] are queued
	next  *crossChunk
}

type crossQueue struct {
	mu         sync.Mutex
	head, tail *crossChunk // what is queued, oldest first
	free       *crossChunk // run chunks, for push to fill again
	nfree      int
	closed     bool
	n          atomic.Int32 // items queued, read without the lock
	sleeping   atomic.Bool  // the loop is (about to be) blocked in the kernel
	woken      atomic.Bool  // a wake-up is in flight and not yet consumed
	wake       func()       // the backend's wake-up, called under mu
}

func (q *crossQueue) push(it crossItem) {
	q.mu.Lock()
	if !q.closed {
		t := q.tail
		if last := q.last(); last != nil && last.op == it.op && last.h == it.h &&
			(it.op == crossTrigger || it.op == crossTriggerAll) && last.reps < math.MaxUint32 {
			last.reps++
		} else {
			if t == nil || t.n == crossChunkLen {
				t = q.newChunk()
			}
			it.reps = 1
			t.items[t.n] = it
			t.n++
		}
		q.n.Add(1)
		q.kickLocked()
	}
	q.mu.Unlock()
}

// last is the newest item queued, nil if none.
func (q *crossQueue) last() *crossItem {
	if q.tail == nil || q.tail.n == 0 {
		return nil
	}
	return &q.tail.items[q.tail.n-1]
}

// newChunk appends an empty chunk to the queue, a free one if there is one.
func (q *crossQueue) newChunk() *crossChunk {
	c := q.free
	if c != nil {
		q.free, c.next = c.next, nil
		q.nfree--
	} else {
		c = new(crossChunk)
	}
	if q.tail == nil {
		q.head = c
	} else {
		q.tail.next = c
	}
	q.tail = c
	return c
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

// take hands the queued chunks to the loop, and takes back done, a list of
// chunks the loop has run (and cleared). It returns nil when nothing is
// queued.
func (q *crossQueue) take(done *crossChunk) *crossChunk {
	if q.n.Load() == 0 {
		return nil
	}
	q.mu.Lock()
	items := q.head
	q.head, q.tail = nil, nil
	q.n.Store(0)
	for done != nil && q.nfree < maxFreeChunks && !q.closed {
		c := done
		done = c.next
		c.next, c.n = q.free, 0
		q.free = c
		q.nfree++
	}
	q.mu.Unlock()
	return items
}

// close drops every later push; after it returns the wake-up function is
// never called again, so the backend may close its descriptors.
func (q *crossQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.head, q.tail, q.free = nil, nil, nil
	q.n.Store(0)
	q.mu.Unlock()
}

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
	reps uint32 // how many times to do it; 1 when pushed, 0 in a slot left empty
	h    handle
	x    any
}

// The queue is a list of fixed-size chunks. A producer appends to the
// last, and adds a chunk when it is full, so nothing queued is ever copied
// and a producer that runs ahead of the loop grows no slice. The loop reads
// the items in place, up to where the queue stood at its last take (the
// batch): it never reads further, and a producer never writes an item
// before that point. A chunk the loop has read to the end goes back with
// its next take, and a few are kept for later pushes, so steady-state
// queueing allocates nothing.
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
	mu     sync.Mutex
	tail   *crossChunk // the chunk pushes go to
	free   *crossChunk // chunks run, for push to fill again
	nfree  int
	closed bool

	// The loop's side, written under mu only by take: the batch ends at
	// item endN of chunk end.
	end  *crossChunk
	endN int

	// pending is set once an item was pushed since the last take, read
	// without the lock. Only the first push after a take writes it: an
	// atomic write is a locked instruction, a third of what a push cost
	// when each one added to a count.
	pending  atomic.Bool
	sleeping atomic.Bool // the loop is (about to be) blocked in the kernel
	woken    atomic.Bool // a wake-up is in flight and not yet consumed
	wake     func()      // the backend's wake-up, called under mu

	// The loop's side, not locked, on cache lines of its own (it changes
	// with every item run): the item it reads next, its copy of the end
	// of the batch, and the chunks it has read to the end, for take to
	// hand back.
	_     [64]byte
	rc    *crossChunk
	ri    int
	rEnd  *crossChunk
	rEndN int
	done  *crossChunk
}

func (q *crossQueue) push(it crossItem) {
	q.mu.Lock()
	if !q.closed {
		t := q.tail
		if last := q.lastUntaken(); last != nil && last.op == it.op && last.h == it.h &&
			(it.op == crossTrigger || it.op == crossTriggerAll) && last.reps < math.MaxUint32 {
			last.reps++
		} else {
			if t == q.end && t.n == q.endN && t.n%2 == 1 {
				// The item before is the loop's: leave the rest of its
				// cache line empty, so that pushing here and running
				// there do not take turns with the line.
				t.n++
			}
			if t.n == crossChunkLen {
				t = q.newChunk()
			}
			it.reps = 1
			t.items[t.n] = it
			t.n++
		}
		if !q.pending.Load() {
			// Set since the loop's last take otherwise (both under mu),
			// so the loop sees it before it sleeps.
			q.pending.Store(true)
		}
		q.kickLocked()
	}
	q.mu.Unlock()
}

// init gives the queue its first chunk.
func (q *crossQueue) init() {
	q.tail = new(crossChunk)
	q.end, q.rEnd, q.rc = q.tail, q.tail, q.tail
}

// lastUntaken is the newest item queued, nil if there is none the loop
// has not taken.
func (q *crossQueue) lastUntaken() *crossItem {
	t := q.tail
	if t.n == 0 || (t == q.end && t.n == q.endN) {
		return nil
	}
	return &t.items[t.n-1]
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
	q.tail.next = c
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

// take makes everything queued so far part of the loop's batch, and gives
// back the chunks the loop has read. It reports false if nothing was
// queued since the last take.
func (q *crossQueue) take() bool {
	if !q.pending.Load() {
		return false
	}
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return false
	}
	q.end, q.endN = q.tail, q.tail.n
	q.rEnd, q.rEndN = q.end, q.endN
	q.pending.Store(false)
	for q.done != nil && q.nfree < maxFreeChunks {
		c := q.done
		q.done = c.next
		c.next, c.n = q.free, 0
		q.free = c
		q.nfree++
	}
	q.done = nil
	q.mu.Unlock()
	return true
}

// batchDone reports, without peek's walk, that the loop has run its
// batch to the end, as it has on most rounds. Loop only.
func (q *crossQueue) batchDone() bool { return q.rc == q.rEnd && q.ri >= q.rEndN }

// peek returns the next item of the batch, nil when the batch is done; the
// item stays next until advance. Loop only.
func (q *crossQueue) peek() *crossItem {
	for c := q.rc; c != nil; c = q.rc {
		lim := crossChunkLen
		if c == q.rEnd {
			lim = q.rEndN
		}
		for q.ri < lim && c.items[q.ri].reps == 0 {
			q.ri++ // a slot push left empty
		}
		if q.ri < lim {
			return &c.items[q.ri]
		}
		if c == q.rEnd {
			return nil
		}
		// Read to the end, and the producer has moved on (end is
		// further): hand it back.
		q.rc, q.ri = c.next, 0
		c.next, q.done = q.done, c
	}
	return nil
}

// advance moves past the item peek returned, clearing it. Loop only.
func (q *crossQueue) advance() {
	q.rc.items[q.ri] = crossItem{}
	q.ri++
}

// close drops every later push; after it returns the wake-up function is
// never called again, so the backend may close its descriptors. The loop
// calls it.
func (q *crossQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.tail, q.free, q.end, q.rEnd, q.rc, q.done = nil, nil, nil, nil, nil, nil
	q.pending.Store(false)
	q.mu.Unlock()
}

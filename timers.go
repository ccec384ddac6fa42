package eventcore

import (
	"math"
	"time"
)

// Timers are served by the loop itself: armed timers sit in a heap (of
// timerArity children a slot), and the loop's wait in the kernel times out
// at the earliest deadline (the seed's LoopTimeoutTimerDriver). Arming,
// re-arming and firing allocate nothing.
//
// The heap orders each timer by a key that is its deadline or earlier. A
// re-arm to a deadline no earlier than the key, which is what re-arming an
// idle timeout mostly is, only writes the new deadline: the timer stays
// where it is in the heap. When such a timer reaches the top, its key
// becomes its deadline and it sinks to its place (timerSettleTop), before
// the loop takes the top for the earliest deadline or fires it; a re-arm
// to a deadline before the key moves the timer up at once. So a re-arm
// costs a clock read and, but for a rare move up, no heap work, and each
// one costs at most one sink later.

// TimerCallback is called once per Wait: with fired true when the timer
// expires, with fired false when it is stopped while armed.
type TimerCallback func(t TimerID, fired bool)

// Timers creates and arms timers: [Driver.Timers] returns it.
// Its methods belong to the loop's owner goroutine.
type Timers struct{ l *loop }

type timerObj struct {
	when    int64 // deadline on the loop's clock
	key     int64 // what the heap orders it by: when, or earlier (see above)
	repeat  int64 // period; 0 for a one-shot timer
	heapIdx int32 // position in loop.timerHeap, -1 when not armed
	round   uint32
	cb      TimerCallback
	// fn is an internal timer's action, which reports whether it ran
	// callbacks of the user's (for ProcessEvents' ExitIdle); such a timer
	// is no waiter.
	fn func() bool
}

// timerRef is a heap slot: a timer's key, and the timer's slot in the table.
type timerRef struct {
	key int64
	idx uint32
}

// Create returns a new timer, not armed, with one reference. It returns the
// zero TimerID only after Dispose or when the handle table is full.
func (t Timers) Create() TimerID {
	l := t.l
	if l.disposed {
		return TimerID{}
	}
	h, e := l.timers.alloc(kindTimer)
	if e == nil {
		return TimerID{}
	}
	e.v.heapIdx = -1
	return TimerID{h}
}

// Set arms the timer to expire after timeout and then, if repeat is
// positive, every repeat after that (a periodic timer keeps its cadence: a
// late firing does not shift the ones after it, and missed periods are
// skipped, not fired in a burst). Setting an armed timer moves its deadline;
// a pending Wait stays attached. A negative timeout counts as zero; a zero
// or negative repeat makes a one-shot timer.
//
// [Infinite], like any duration that would reach past the end of the
// loop's clock (see Infinite), means never: a timer set to expire after it
// stays armed (pending, and counted by [Core.WaiterCount]) but does not
// fire, and a periodic timer whose repeat is such a duration fires once,
// after timeout, and then never again.
// Set reports false if the handle is invalid.
func (t Timers) Set(id TimerID, timeout, repeat time.Duration) bool {
	return t.l.timerSet(id.h, kindTimer, timeout, repeat)
}

func (l *loop) timerSet(h handle, k kind, timeout, repeat time.Duration) bool {
	// The clock first: the miss on the timer's entry then overlaps the end
	// of the clock read instead of delaying its start.
	now := l.now()
	e := l.timers.get(h, k)
	if e == nil || l.disposed {
		return false
	}
	when := deadlineAfter(now, timeout)
	e.v.repeat = int64(max(repeat, 0))
	e.v.round = l.timerRound
	e.v.when = when
	if i := int(e.v.heapIdx); i >= 0 {
		if when < e.v.key {
			e.v.key = when
			l.timerHeap[i].key = when
			l.timerUp(i)
		}
	} else {
		if e.v.fn == nil {
			l.waiters++
		}
		l.timerPush(h, e)
	}
	return true
}

// Stop disarms the timer. If it was armed and waited on, the wait's
// callback runs with fired false before Stop returns.
func (t Timers) Stop(id TimerID) {
	l := t.l
	e := l.timers.get(id.h, kindTimer)
	if e == nil || e.v.heapIdx < 0 {
		return
	}
	l.timerRemove(int(e.v.heapIdx))
	l.waiters--
	if cb := e.v.cb; cb != nil {
		e.v.cb = nil
		l.callTimerWait(id.h, cb, false)
	}
}

// IsPending reports whether the timer is armed.
func (t Timers) IsPending(id TimerID) bool {
	e := t.l.timers.get(id.h, kindTimer)
	return e != nil && e.v.heapIdx >= 0
}

// IsPeriodic reports whether the timer was last set with a positive repeat.
func (t Timers) IsPeriodic(id TimerID) bool {
	e := t.l.timers.get(id.h, kindTimer)
	return e != nil && e.v.repeat > 0
}

// Wait registers cb to run once: when the timer next expires (fired true),
// or when it is stopped while armed (fired false). A periodic timer needs a
// new Wait for each period it is to be notified of. The wait holds a
// reference to the timer until cb has run or the wait is cancelled, so a
// timer may be released right after Set and Wait ("fire and forget"); a wait
// on a timer that is not armed and that no one else holds is cancelled.
//
// At most one wait may be pending per timer: Wait reports false, and
// registers nothing, if one is or if the handle is invalid. cb never runs
// before Wait returns.
func (t Timers) Wait(id TimerID, cb TimerCallback) bool {
	e := t.l.timers.get(id.h, kindTimer)
	if e == nil || cb == nil {
		return false
	}
	if e.v.cb != nil {
		e.setErr(ErrBusy)
		return false
	}
	e.v.cb = cb
	e.refs++
	return true
}

// CancelWait removes the pending wait, if any; its callback will not run.
func (t Timers) CancelWait(id TimerID) {
	e := t.l.timers.get(id.h, kindTimer)
	if e == nil || e.v.cb == nil {
		return
	}
	e.v.cb = nil
	t.l.timerRelease(id.h)
}

// AddRef adds a reference to the timer.
func (t Timers) AddRef(id TimerID) {
	if e := t.l.timers.get(id.h, kindTimer); e != nil {
		e.refs++
	}
}

// ReleaseRef drops a reference; the last one stops the timer (without
// calling a wait, since a wait holds a reference itself) and frees it.
// ReleaseRef reports whether the timer is still alive: false when this call
// freed it or the handle was invalid.
func (t Timers) ReleaseRef(id TimerID) bool { return t.l.timerRelease(id.h) }

// IsUnique reports whether the timer has exactly one reference.
func (t Timers) IsUnique(id TimerID) bool {
	e := t.l.timers.get(id.h, kindTimer)
	return e != nil && e.refs == 1
}

func (l *loop) timerRelease(h handle) bool {
	e := l.timers.get(h, kindTimer)
	if e == nil {
		return false
	}
	e.refs--
	if e.refs == 1 && e.v.cb != nil && e.v.heapIdx < 0 {
		// Only the wait holds it and nothing can arm it again: a starved wait.
		e.v.cb = nil
		e.refs = 0
	}
	if e.refs > 0 {
		return true
	}
	if e.v.heapIdx >= 0 {
		l.timerRemove(int(e.v.heapIdx))
		l.waiters--
	}
	l.timers.release(h, e)
	return false
}

// newInternalTimer creates a timer of the driver's own, running fn when it
// fires; it is armed with timerSet, and freed with freeInternalTimer. fn
// reports whether it ran callbacks of the user's.
func (l *loop) newInternalTimer(fn func() bool) handle {
	h, e := l.timers.alloc(kindInternalTimer)
	if e == nil {
		return 0
	}
	e.v.heapIdx = -1
	e.v.fn = fn
	return h
}

func (l *loop) freeInternalTimer(h handle) {
	if e := l.timers.get(h, kindInternalTimer); e != nil {
		if e.v.heapIdx >= 0 {
			l.timerRemove(int(e.v.heapIdx))
		}
		l.timers.release(h, e)
	}
}

// never is the deadline that does not come: the end of the loop's clock,
// where deadlineAfter saturates.
const never = math.MaxInt64

// deadlineAfter is the loop-clock time d after now (a time on the loop's
// clock, never negative). Every duration the API takes becomes a deadline
// here: a negative d counts as zero, and one that would carry the deadline
// past the end of the clock ([Infinite] among them) gives never.
func deadlineAfter(now int64, d time.Duration) int64 {
	switch {
	case d <= 0:
		return now
	case int64(d) >= never-now:
		return never
	}
	return now + int64(d)
}

// waitUntil is how long the loop may sleep from now until when: Infinite
// if when is never, zero if it has passed.
func waitUntil(now, when int64) time.Duration {
	if when == never {
		return Infinite
	}
	return time.Duration(max(when-now, 0))
}

// nextTimerWait is how long the loop may sleep before the earliest timer.
// It settles the top of the heap first.
func (l *loop) nextTimerWait(now int64) time.Duration {
	if !l.timerSettleTop() {
		return Infinite
	}
	return waitUntil(now, l.timerHeap[0].key)
}

// fireTimers runs every timer due at now. Timers armed by its own callbacks
// wait for the next round, so a callback that re-arms with a zero timeout
// cannot keep the loop here forever. The heap is its batch (see "Batches"
// in loop.go): each timer is taken off it, or re-armed, before its
// callback runs, so what a panicking callback leaves due fires on the next
// round, and a callback that calls ProcessEvents finds the heap as it is.
func (l *loop) fireTimers(now int64) bool {
	l.timerRound++
	fired := false
	for !l.disposed && l.timerSettleTop() {
		top := l.timerHeap[0]
		if top.key > now {
			break
		}
		e := l.timers.at(top.idx)
		if e.v.round == l.timerRound {
			break
		}
		h := l.timers.handle(top.idx, e)
		if e.v.repeat > 0 {
			// The last period that began by now (no overflow: it is not
			// after now), then one more, which may be never.
			missed := (now - e.v.when) / e.v.repeat
			e.v.when = deadlineAfter(e.v.when+missed*e.v.repeat, time.Duration(e.v.repeat))
			l.timerSinkTop(e)
		} else {
			l.timerRemove(0)
			if e.v.fn == nil {
				l.waiters--
			}
		}
		if fn := e.v.fn; fn != nil {
			// The driver's own work: an event for ProcessEvents to report
			// only if it ran callbacks.
			l.depth++
			fired = fn() || fired
			l.depth--
			fired = l.reportChanges() || fired
			continue
		}
		fired = true
		if cb := e.v.cb; cb != nil {
			e.v.cb = nil
			l.callTimerWait(h, cb, true)
		}
	}
	return fired
}

// callTimerWait calls cb, the wait of timer h, taken off the timer, and
// releases the reference the wait held, even if cb panics: a panic
// recovered outside the loop must not leak the timer.
func (l *loop) callTimerWait(h handle, cb TimerCallback, fired bool) {
	defer l.timerRelease(h)
	l.depth++
	cb(TimerID{h}, fired)
	l.depth--
}

func (l *loop) timerPush(h handle, e *entry[timerObj]) {
	idx, _ := h.index()
	e.v.key = e.v.when
	l.timerHeap = append(l.timerHeap, timerRef{key: e.v.key, idx: idx})
	i := len(l.timerHeap) - 1
	e.v.heapIdx = int32(i)
	l.timerUp(i)
}

func (l *loop) timerRemove(i int) {
	hp := l.timerHeap
	l.timers.at(hp[i].idx).v.heapIdx = -1
	last := len(hp) - 1
	if i != last {
		hp[i] = hp[last]
		l.timers.at(hp[i].idx).v.heapIdx = int32(i)
	}
	l.timerHeap = hp[:last]
	if i != last {
		l.timerDown(i)
		l.timerUp(i)
	}
}

// timerSettleTop sinks every timer found on top of the heap with a key
// earlier than its deadline, until the top is in its place: then the top's
// key is the earliest deadline. It reports whether any timer is armed.
func (l *loop) timerSettleTop() bool {
	for len(l.timerHeap) > 0 {
		e := l.timers.at(l.timerHeap[0].idx)
		if e.v.key == e.v.when {
			return true
		}
		l.timerSinkTop(e)
	}
	return false
}

// timerSinkTop gives e, the timer on top of the heap, its deadline as its
// key, and moves it down to its place.
func (l *loop) timerSinkTop(e *entry[timerObj]) {
	e.v.key = e.v.when
	l.timerHeap[0].key = e.v.key
	l.timerDown(0)
}

// timerArity is the number of children of a heap slot: four halves the
// depth of a binary heap, so a timer taken off the top moves through half
// as many slots, each of which tells its timer where it is now.
const timerArity = 4

// timerUp moves the timer in slot i up to its place. The timers it passes
// move down one slot each; it is written once, where it stops.
func (l *loop) timerUp(i int) {
	hp := l.timerHeap
	x := hp[i]
	for i > 0 {
		p := (i - 1) / timerArity
		if hp[p].key <= x.key {
			break
		}
		l.timerPut(i, hp[p])
		i = p
	}
	l.timerPut(i, x)
}

// timerDown moves the timer in slot i down to its place, past the earliest
// child of each slot.
func (l *loop) timerDown(i int) {
	hp := l.timerHeap
	n := len(hp)
	x := hp[i]
	for {
		c := timerArity*i + 1
		if c >= n {
			break
		}
		m := c
		for j := c + 1; j < min(c+timerArity, n); j++ {
			if hp[j].key < hp[m].key {
				m = j
			}
		}
		if x.key <= hp[m].key {
			break
		}
		l.timerPut(i, hp[m])
		i = m
	}
	l.timerPut(i, x)
}

// timerPut puts r in heap slot i and tells its timer.
func (l *loop) timerPut(i int, r timerRef) {
	l.timerHeap[i] = r
	l.timers.at(r.idx).v.heapIdx = int32(i)
}

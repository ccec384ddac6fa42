package eventcore

// Events are cross-goroutine notifications. They need no descriptor each:
// a trigger is an item on the loop's cross-goroutine queue (wakeup.go), and
// the waits of an event form a list threaded through the wait table, so
// waiting, triggering and cancelling allocate nothing in steady state.

// EventCallback is called once per Wait, when the event is triggered.
type EventCallback func(ev EventID)

// Events creates, triggers and waits on events: [Driver.Events] returns it.
// Trigger may be called from any goroutine; the other methods belong to the
// loop's owner goroutine.
type Events struct{ l *loop }

type eventObj struct {
	head, tail uint32 // wait slots + 1, oldest first; 0 when none
	seq        uint32 // sequence number of the next wait
}

type eventWaitObj struct {
	ev         handle
	prev, next uint32 // neighbouring wait slots + 1
	seq        uint32
	cb         EventCallback
}

// Create returns a new event with one reference. It returns the zero EventID
// only after Dispose or when the handle table is full.
func (ev Events) Create() EventID {
	if ev.l.disposed {
		return EventID{}
	}
	h, e := ev.l.events.alloc(kindEvent)
	if e == nil {
		return EventID{}
	}
	return EventID{h}
}

// Trigger wakes the event's waiters: all of the waits registered when the
// trigger is processed if notifyAll is true, else the oldest one. It may be
// called from any goroutine, the owner's included; the callbacks always run
// later, from ProcessEvents, never inside Trigger. A trigger processed when
// no wait is registered is dropped, as in the seed: events are not latched.
// Triggering an invalid or released event does nothing.
func (ev Events) Trigger(id EventID, notifyAll bool) {
	op := crossTrigger
	if notifyAll {
		op = crossTriggerAll
	}
	ev.l.xq.push(crossItem{op: op, h: id.h})
}

// Wait registers cb to run once, on a later trigger of the event, and
// returns the wait's ID for CancelWait. Any number of waits may be pending.
// It returns the zero EventWaitID, and registers nothing, if the event is
// invalid.
func (ev Events) Wait(id EventID, cb EventCallback) EventWaitID {
	l := ev.l
	e := l.events.get(id.h, kindEvent)
	if e == nil || cb == nil {
		return EventWaitID{}
	}
	wh, w := l.eventWaits.alloc(kindEventWait)
	if w == nil {
		e.err = ErrTooManyHandles
		return EventWaitID{}
	}
	widx, _ := wh.index()
	w.v = eventWaitObj{ev: id.h, prev: e.v.tail, seq: e.v.seq, cb: cb}
	e.v.seq++
	if e.v.tail != 0 {
		l.eventWaits.at(e.v.tail - 1).v.next = widx + 1
	} else {
		e.v.head = widx + 1
	}
	e.v.tail = widx + 1
	l.waiters++
	return EventWaitID{wh}
}

// CancelWait removes the pending wait w of the event; its callback will not
// run. It reports whether the wait was pending.
func (ev Events) CancelWait(id EventID, w EventWaitID) bool {
	l := ev.l
	e := l.events.get(id.h, kindEvent)
	we := l.eventWaits.get(w.h, kindEventWait)
	if e == nil || we == nil || we.v.ev != id.h {
		return false
	}
	l.unlinkWait(e, w.h, we)
	return true
}

// AddRef adds a reference to the event.
func (ev Events) AddRef(id EventID) {
	if e := ev.l.events.get(id.h, kindEvent); e != nil {
		e.refs++
	}
}

// ReleaseRef drops a reference; the last one cancels the pending waits
// (their callbacks do not run) and frees the event. It reports whether the
// event is still alive: false when this call freed it or the handle was
// invalid.
func (ev Events) ReleaseRef(id EventID) bool {
	l := ev.l
	e := l.events.get(id.h, kindEvent)
	if e == nil {
		return false
	}
	if e.refs--; e.refs > 0 {
		return true
	}
	for e.v.head != 0 {
		idx := e.v.head - 1
		we := l.eventWaits.at(idx)
		l.unlinkWait(e, makeHandle(kindEventWait, idx, we.gen), we)
	}
	l.events.release(id.h, e)
	return false
}

func (l *loop) unlinkWait(e *entry[eventObj], wh handle, we *entry[eventWaitObj]) {
	if we.v.prev != 0 {
		l.eventWaits.at(we.v.prev - 1).v.next = we.v.next
	} else {
		e.v.head = we.v.next
	}
	if we.v.next != 0 {
		l.eventWaits.at(we.v.next - 1).v.prev = we.v.prev
	} else {
		e.v.tail = we.v.prev
	}
	l.eventWaits.release(wh, we)
	l.waiters--
}

// triggerEvent runs on the loop. Waits registered by the callbacks
// themselves are not woken by this trigger.
func (l *loop) triggerEvent(h handle, all bool) {
	e := l.events.get(h, kindEvent)
	if e == nil {
		return
	}
	limit := e.v.seq
	for e.v.head != 0 {
		idx := e.v.head - 1
		we := l.eventWaits.at(idx)
		if int32(we.v.seq-limit) >= 0 {
			return
		}
		cb := we.v.cb
		l.unlinkWait(e, makeHandle(kindEventWait, idx, we.gen), we)
		l.depth++
		cb(EventID{h})
		l.depth--
		if !all {
			return
		}
		if e = l.events.get(h, kindEvent); e == nil {
			return
		}
	}
}

package eventcore

// Events are cross-goroutine notifications. They need no descriptor each:
// a trigger is an item on the loop's cross-goroutine queue (wakeup.go), and
// the waits of an event form a waitList, so waiting, triggering and
// cancelling allocate nothing in steady state.

// EventCallback is called once per Wait, when the event is triggered.
type EventCallback func(ev EventID)

// Events creates, triggers and waits on events: [Driver.Events] returns it.
// Trigger may be called from any goroutine; the other methods belong to the
// loop's owner goroutine.
type Events struct{ l *loop }

type eventObj struct {
	waits waitList
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
	wh := addWaiter(&l.eventWaits, kindEventWait, &e.v.waits, id.h, cb)
	if wh == 0 {
		e.setErr(ErrTooManyHandles)
		return EventWaitID{}
	}
	l.waiters++
	return EventWaitID{wh}
}

// CancelWait removes the pending wait w of the event; its callback will not
// run. It reports whether the wait was pending.
func (ev Events) CancelWait(id EventID, w EventWaitID) bool {
	l := ev.l
	e := l.events.get(id.h, kindEvent)
	we := l.eventWaits.get(w.h, kindEventWait)
	if e == nil || we == nil || we.v.owner != id.h {
		return false
	}
	removeWaiter(&l.eventWaits, &e.v.waits, w.h, we)
	l.waiters--
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
	l.waiters -= clearWaiters(&l.eventWaits, &e.v.waits)
	l.events.release(id.h, e)
	return false
}

// triggerEvent runs on the loop. A wait registered by one of the callbacks
// is not woken by this trigger.
func (l *loop) triggerEvent(h handle, all bool) {
	e := l.events.get(h, kindEvent)
	if e == nil {
		return
	}
	if all {
		l.startWake(h, &e.v.waits)
		return
	}
	l.callEventWaiter(h, e, e.v.waits.seq)
}

// wakeEventWaiter calls the oldest wait of event h registered before the
// sequence number limit, taking it off the list first; it reports false if
// there is none.
func (l *loop) wakeEventWaiter(h handle, limit uint32) bool {
	e := l.events.get(h, kindEvent)
	return e != nil && l.callEventWaiter(h, e, limit)
}

// callEventWaiter is wakeEventWaiter for the live event e.
func (l *loop) callEventWaiter(h handle, e *entry[eventObj], limit uint32) bool {
	cb, ok := popWaiter(&l.eventWaits, &e.v.waits, limit)
	if !ok {
		return false
	}
	l.waiters--
	l.depth++
	cb(EventID{h})
	l.depth--
	return true
}

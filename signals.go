package eventcore

import (
	"os"
	"os/signal"
	"sync"
)

// Signals arrive through os/signal: the Go runtime owns the process's signal
// handlers, so signalfd or sigaction cannot be used. One channel and one
// goroutine exist per signal that some loop listens to; the goroutine queues
// the signal on each such loop's cross-goroutine queue. When the last
// listener of a signal in the process is released, signal.Stop restores the
// signal's default handling (unless other code of the program still asks
// for it through os/signal).

// SignalCallback is called, from ProcessEvents, each time the signal is
// received. Signals of one kind that arrive close together may be coalesced
// into one call, as the kernel coalesces them.
type SignalCallback func(id SignalID, status SignalStatus, sig os.Signal)

// Signals listens for process signals: [Driver.Signals] returns it.
// Its methods belong to the loop's owner goroutine.
type Signals struct{ l *loop }

type signalObj struct {
	sig os.Signal
	cb  SignalCallback
	seq uint64 // the listener's number, in the order of Listen calls
}

// sigDelivery is a signal's delivery to this loop under way (see "Batches"
// in loop.go): the driver's own handling, then the listeners of the signal
// that existed when it began, in the order of their table slots.
type sigDelivery struct {
	sig   os.Signal // nil when none is under way
	sys   bool      // the driver's handling (sysSignal) is still to finish
	limit uint64    // listeners numbered from limit on came after it began
	next  uint32    // the table slot to look at next
}

// Listen starts calling cb whenever sig is received, until the listener's
// last reference is released. While any listener of sig exists, sig no
// longer has its default effect (a SIGTERM does not end the process). Every
// listener of the signal, in every driver of the process, is called; a
// listener made by a callback while a signal is delivered is called from
// the next signal on, not for that one. Each
// listener counts as a waiter. Signals that cannot be caught (SIGKILL,
// SIGSTOP; on Windows, every signal but os.Interrupt, which Ctrl-C and
// Ctrl-Break raise, and SIGTERM) give ErrNotSupported.
func (s Signals) Listen(sig os.Signal, cb SignalCallback) (SignalID, error) {
	l := s.l
	if l.disposed {
		return SignalID{}, ErrDisposed
	}
	if sig == nil || cb == nil || !sigCatchable(sig) {
		return SignalID{}, ErrNotSupported
	}
	h, e := l.signals.alloc(kindSignal)
	if e == nil {
		return SignalID{}, ErrTooManyHandles
	}
	e.v = signalObj{sig: sig, cb: cb, seq: l.sigSeq}
	l.sigSeq++
	l.sigRef(sig)
	l.waiters++
	return SignalID{h}, nil
}

// AddRef adds a reference to the listener.
func (s Signals) AddRef(id SignalID) {
	if e := s.l.signals.get(id.h, kindSignal); e != nil {
		e.refs++
	}
}

// ReleaseRef drops a reference; the last one stops the listener: its
// callback is not called again, not even for a signal already received.
// It reports whether the listener is still alive: false when this call
// freed it or the handle was invalid.
func (s Signals) ReleaseRef(id SignalID) bool {
	l := s.l
	e := l.signals.get(id.h, kindSignal)
	if e == nil {
		return false
	}
	if e.refs--; e.refs > 0 {
		return true
	}
	l.stopListener(id.h, e)
	return false
}

func (l *loop) stopListener(h handle, e *entry[signalObj]) {
	sig := e.v.sig
	l.signals.release(h, e)
	l.waiters--
	l.sigUnref(sig)
}

// sigRef and sigUnref count this loop's users of sig (listeners, and the
// driver's own needs), subscribing the loop to sig while there are any.
func (l *loop) sigRef(sig os.Signal) {
	if l.signalRefs == nil {
		l.signalRefs = make(map[os.Signal]int)
	}
	if l.signalRefs[sig]++; l.signalRefs[sig] == 1 {
		sigSubscribe(sig, l)
	}
}

func (l *loop) sigUnref(sig os.Signal) {
	if l.signalRefs[sig]--; l.signalRefs[sig] == 0 {
		delete(l.signalRefs, sig)
		sigUnsubscribe(sig, l)
	}
}

// deliverSignal delivers sig, received by the process, to this loop: the
// driver's own handling of it, then every listener of sig. A listener made
// by one of the callbacks is not called for this signal, only for the next.
func (l *loop) deliverSignal(sig os.Signal) {
	l.finishSignal() // one delivery at a time
	l.sigd = sigDelivery{sig: sig, sys: true, limit: l.sigSeq}
	l.finishSignal()
}

// finishSignal runs the rest of the signal delivery under way; it reports
// whether listeners were called.
func (l *loop) finishSignal() bool {
	d := &l.sigd
	if d.sig != nil && d.sys {
		// Run again, from the start, if a callback it runs (a process's
		// exit waiter) panicked: it only looks at what is left to do.
		l.sysSignal(d.sig)
		d.sys = false
	}
	ran := false
	for d.sig != nil && !l.disposed {
		h, e := l.nextListener(d)
		if e == nil {
			*d = sigDelivery{}
			break
		}
		ran = true
		l.depth++
		e.v.cb(SignalID{h}, SignalStatusOK, d.sig)
		l.depth--
	}
	return ran
}

// nextListener finds the next listener d is to call, and moves d past it.
func (l *loop) nextListener(d *sigDelivery) (handle, *entry[signalObj]) {
	t := &l.signals
	for ; d.next < t.n; d.next++ {
		e := t.at(d.next)
		if e.refs > 0 && e.v.sig == d.sig && e.v.seq < d.limit {
			i := d.next
			d.next++
			return t.handle(i, e), e
		}
	}
	return 0, nil
}

func (l *loop) disposeSignals() {
	l.signals.each(func(h handle, e *entry[signalObj]) { l.stopListener(h, e) })
}

// The process-wide part: which loops listen to which signal.
var sigState struct {
	sync.Mutex
	subs map[os.Signal]*sigSub
}

type sigSub struct {
	ch    chan os.Signal
	loops map[*loop]struct{}
}

func sigSubscribe(sig os.Signal, l *loop) {
	sigState.Lock()
	defer sigState.Unlock()
	if sigState.subs == nil {
		sigState.subs = make(map[os.Signal]*sigSub)
	}
	sub := sigState.subs[sig]
	if sub == nil {
		sub = &sigSub{ch: make(chan os.Signal, 1), loops: make(map[*loop]struct{})}
		sigState.subs[sig] = sub
		signal.Notify(sub.ch, sig)
		go sub.forward()
	}
	sub.loops[l] = struct{}{}
}

func sigUnsubscribe(sig os.Signal, l *loop) {
	sigState.Lock()
	defer sigState.Unlock()
	sub := sigState.subs[sig]
	if sub == nil {
		return
	}
	delete(sub.loops, l)
	if len(sub.loops) == 0 {
		signal.Stop(sub.ch) // no send on ch after this returns
		close(sub.ch)
		delete(sigState.subs, sig)
	}
}

func (sub *sigSub) forward() {
	for sig := range sub.ch {
		sigState.Lock()
		for l := range sub.loops {
			l.xq.push(crossItem{op: crossSignal, x: sig})
		}
		sigState.Unlock()
	}
}

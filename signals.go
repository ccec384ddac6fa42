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
}

// Listen starts calling cb whenever sig is received, until the listener's
// last reference is released. While any listener of sig exists, sig no
// longer has its default effect (a SIGTERM does not end the process). Every
// listener of the signal, in every driver of the process, is called. Each
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
	e.v = signalObj{sig: sig, cb: cb}
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

func (l *loop) deliverSignal(sig os.Signal) {
	l.sysSignal(sig)
	l.signals.each(func(h handle, e *entry[signalObj]) {
		if e.v.sig == sig && !l.disposed {
			l.depth++
			e.v.cb(SignalID{h}, SignalStatusOK, sig)
			l.depth--
		}
	})
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
			l.xq.push(crossItem{op: crossSignal, sig: sig})
		}
		sigState.Unlock()
	}
}

package eventcore

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"testing"
	"time"
)

// FuzzLoop decodes its input into a sequence of API calls on one loop —
// timers, events, sockets over loopback, references, with stale and random
// handles mixed in — and checks after every step that nothing panicked,
// that no callback ran twice or after its cancel, and that WaiterCount is
// what a simple model predicts. At the end everything is released and the
// driver must report nothing open.
func FuzzLoop(f *testing.F) {
	for _, seed := range [][]byte{
		{0, 0, 1, 0, 12, 12},
		{2, 1, 3, 1, 12, 4, 0, 12},
		{6, 0, 7, 1, 12, 7, 0, 12, 9, 12},
		{8, 8, 12, 12, 10, 0, 5, 10, 1, 12, 12, 11, 1, 13, 0, 12},
		{0, 1, 1, 0, 0, 0, 1, 0, 12, 2, 0, 12, 4, 0, 3, 0, 12},
		{8, 12, 12, 10, 0, 3, 10, 1, 200, 12, 12, 14, 0, 15, 0, 12},
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// The fuzzing engine has no time limit per input: a wedged loop
		// would pass unnoticed. Crash instead, so that the input is saved.
		watchdog := time.AfterFunc(hangLimit, func() {
			buf := make([]byte, 1<<20)
			panic(fmt.Sprintf("input still running after %v:\n%s", hangLimit, buf[:runtime.Stack(buf, true)]))
		})
		defer watchdog.Stop()
		name := testDrivers(t)[0]
		d := newTestDriver(t, name)
		m := newModel(t, d)
		for len(data) > 0 && m.steps < 400 {
			data = m.step(data)
			m.check()
		}
		m.finish()
	})
}

// model is what the fuzzer expects of the loop.
type model struct {
	t     *testing.T
	d     *Driver
	steps int

	calls     map[int]int  // callback token → times called
	cancelled map[int]bool // tokens cancelled: never to be called
	nextToken int

	timers []*mTimer
	events []*mEvent
	socks  []*mSock
	stale  []Handle

	lst             StreamListener
	rng             *rand.Rand
	pendingIO       int // socket operations started and neither completed nor cancelled
	pendingTriggers []mTrigger
	loopback        netip.Addr
}

type mTimer struct {
	id       TimerID
	refs     int
	armed    bool
	due      bool // armed with a zero timeout: fires at the next ProcessEvents
	periodic bool
	wait     int // token of the pending wait, 0 if none
}

type mEvent struct {
	id    EventID
	refs  int
	waits []mWait
}

type mWait struct {
	id    EventWaitID
	token int
}

type mSock struct {
	s          StreamSocket
	refs       int
	rd, wr     int // tokens of pending operations
	connecting int
}

func newModel(t *testing.T, d *Driver) *model {
	m := &model{t: t, d: d, calls: map[int]int{}, cancelled: map[int]bool{}, rng: rand.New(rand.NewPCG(1, 2))}
	var err error
	// A random loopback address per input: thousands of short connections
	// a second leave TIME_WAIT behind, and would use up one address's ports.
	m.loopback = netip.AddrFrom4([4]byte{127, byte(1 + rand.IntN(254)), byte(rand.IntN(256)), byte(1 + rand.IntN(254))})
	m.lst, err = d.Sockets().ListenStream(AddrFromAddrPort(netip.AddrPortFrom(m.loopback, 0)), ListenDefaults, func(_ StreamListener, s StreamSocket, _ Addr) {
		m.socks = append(m.socks, &mSock{s: s, refs: 1})
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func (m *model) token() int {
	m.nextToken++
	return m.nextToken
}

// called records a callback; it fails on a second call or one after cancel.
func (m *model) called(tok int, what string) {
	m.calls[tok]++
	if m.calls[tok] > 1 {
		m.t.Fatalf("step %d: %s callback %d ran %d times", m.steps, what, tok, m.calls[tok])
	}
	if m.cancelled[tok] {
		m.t.Fatalf("step %d: %s callback %d ran after its cancel", m.steps, what, tok)
	}
}

func (m *model) cancel(tok int) {
	if tok != 0 {
		m.cancelled[tok] = true
	}
}

func (m *model) expectedWaiters() int {
	n := m.pendingIO + 1 // the listener waits for connections
	for _, tm := range m.timers {
		if tm.armed {
			n++
		}
	}
	for _, ev := range m.events {
		n += len(ev.waits)
	}
	return n
}

func (m *model) check() {
	m.sweep()
	if got, want := m.d.Core().WaiterCount(), m.expectedWaiters(); got != want {
		m.t.Fatalf("step %d: WaiterCount %d, the model says %d", m.steps, got, want)
	}
}

// pick returns an index into a list of n, or -1 to use a stale or random
// handle instead.
func pick(b byte, n int) int {
	if n == 0 || int(b)%(n+1) == n {
		return -1
	}
	return int(b) % (n + 1)
}

func (m *model) badHandle(b byte) handle {
	if b%2 == 0 && len(m.stale) > 0 {
		return m.stale[int(b/2)%len(m.stale)].raw()
	}
	return handle(m.rng.Uint64())
}

func (m *model) step(data []byte) []byte {
	m.steps++
	arg := func(i int) byte {
		if i < len(data) {
			return data[i]
		}
		return 0
	}
	op, a, b := data[0]%16, arg(1), arg(2)
	used := 3
	tm, evs, sk := m.d.Timers(), m.d.Events(), m.d.Sockets()
	switch op {
	case 0: // create a timer
		m.timers = append(m.timers, &mTimer{id: tm.Create(), refs: 1})
		used = 1
	case 1: // arm a timer: zero or one-hour timeout, one-shot or periodic
		i := pick(a, len(m.timers))
		timeout, repeat := time.Duration(0), time.Duration(0)
		if b&1 != 0 {
			timeout = time.Hour
		}
		if b&2 != 0 {
			repeat = time.Hour
		}
		if i < 0 {
			if tm.Set(TimerID{m.badHandle(b)}, timeout, repeat) {
				m.t.Fatal("Set accepted a bad handle")
			}
			break
		}
		x := m.timers[i]
		tm.Set(x.id, timeout, repeat)
		x.armed, x.due, x.periodic = true, timeout == 0, repeat > 0
	case 2: // wait on a timer
		i := pick(a, len(m.timers))
		if i < 0 {
			tm.Wait(TimerID{m.badHandle(b)}, func(TimerID, bool) { m.t.Fatal("wait on a bad timer called") })
			break
		}
		x := m.timers[i]
		tok := m.token()
		ok := tm.Wait(x.id, func(_ TimerID, fired bool) {
			m.called(tok, "timer")
			x.wait = 0
			// A stop disarms; a firing disarms all but periodic timers.
			if x.armed && !(fired && x.periodic) {
				m.t.Fatalf("timer wait: fired=%v for a timer the model still has armed", fired)
			}
		})
		if ok != (x.wait == 0) {
			m.t.Fatalf("Wait returned %v with a wait pending: %v", ok, x.wait != 0)
		}
		if ok {
			x.wait = tok
		}
	case 3: // stop a timer: a pending wait runs at once with fired == false
		i := pick(a, len(m.timers))
		if i < 0 {
			tm.Stop(TimerID{m.badHandle(b)})
			break
		}
		x := m.timers[i]
		wasArmed, tok := x.armed, x.wait
		x.armed, x.due = false, false
		tm.Stop(x.id)
		if wasArmed && tok != 0 && m.calls[tok] != 1 {
			m.t.Fatal("Stop did not call the pending wait")
		}
	case 4: // cancel a timer's wait
		if i := pick(a, len(m.timers)); i >= 0 {
			x := m.timers[i]
			m.cancel(x.wait)
			x.wait = 0
			tm.CancelWait(x.id)
		} else {
			tm.CancelWait(TimerID{m.badHandle(b)})
		}
	case 5: // add a reference, or drop one
		m.refOp(a, b)
	case 6: // create an event
		m.events = append(m.events, &mEvent{id: evs.Create(), refs: 1})
		used = 1
	case 7: // wait on an event
		i := pick(a, len(m.events))
		if i < 0 {
			if w := evs.Wait(EventID{m.badHandle(b)}, func(EventID) { m.t.Fatal("wait on a bad event called") }); w != (EventWaitID{}) {
				m.t.Fatal("Wait on a bad event returned an ID")
			}
			break
		}
		ev := m.events[i]
		tok := m.token()
		w := evs.Wait(ev.id, func(EventID) { m.called(tok, "event") })
		ev.waits = append(ev.waits, mWait{id: w, token: tok})
	case 8: // trigger an event; processed at the next ProcessEvents
		if i := pick(a, len(m.events)); i >= 0 {
			evs.Trigger(m.events[i].id, b&1 != 0)
			m.pendingTriggers = append(m.pendingTriggers, mTrigger{m.events[i], b&1 != 0})
		} else {
			evs.Trigger(EventID{m.badHandle(b)}, true)
		}
	case 9: // cancel an event wait
		if i := pick(a, len(m.events)); i >= 0 && len(m.events[i].waits) > 0 {
			ev := m.events[i]
			j := int(b) % len(ev.waits)
			if !evs.CancelWait(ev.id, ev.waits[j].id) {
				m.t.Fatal("CancelWait of a pending wait failed")
			}
			m.cancel(ev.waits[j].token)
			ev.waits = append(ev.waits[:j], ev.waits[j+1:]...)
		} else {
			evs.CancelWait(EventID{m.badHandle(b)}, EventWaitID{m.badHandle(a)})
		}
	case 10: // connect to the listener
		if len(m.socks) < 8 {
			addr, _ := sk.LocalAddress(m.lst)
			ms := &mSock{refs: 1}
			tok := m.token()
			ms.connecting = tok
			m.pendingIO++
			ms.s = sk.ConnectStream(addr, AddrFromAddrPort(netip.AddrPortFrom(m.loopback, 0)), func(_ StreamSocket, st ConnectStatus) {
				m.called(tok, "connect")
				m.pendingIO--
				ms.connecting = 0
			})
			m.socks = append(m.socks, ms)
		}
	case 11: // read: any mode, 0 to 14 bytes, or a loaned read
		m.ioOp(a, b, false)
	case 12: // run the loop once
		m.process()
		used = 1
	case 13: // write
		m.ioOp(a, b, true)
	case 14: // cancel a read or write
		if i := pick(a, len(m.socks)); i >= 0 {
			ms := m.socks[i]
			if b&1 == 0 && ms.rd != 0 {
				m.cancel(ms.rd)
				ms.rd = 0
				m.pendingIO--
				sk.CancelRead(ms.s)
			} else if b&1 == 1 && ms.wr != 0 {
				m.cancel(ms.wr)
				ms.wr = 0
				m.pendingIO--
				sk.CancelWrite(ms.s)
			}
		} else {
			sk.CancelRead(StreamSocket{m.badHandle(b)})
			sk.CancelWrite(StreamSocket{m.badHandle(b)})
		}
	case 15: // shut down writing
		if i := pick(a, len(m.socks)); i >= 0 && m.socks[i].connecting == 0 {
			ms := m.socks[i]
			sk.Shutdown(ms.s, false, true) // a pending write completes, disconnected
		} else {
			sk.Shutdown(StreamSocket{m.badHandle(b)}, true, true)
		}
	}
	if used > len(data) {
		used = len(data)
	}
	return data[used:]
}

type mTrigger struct {
	ev  *mEvent
	all bool
}

func (m *model) ioOp(a, b byte, write bool) {
	sk := m.d.Sockets()
	i := pick(a, len(m.socks))
	mode := IOMode(b % 3)
	size := int(b>>2) % 16
	if i < 0 {
		var r ioResult
		if write {
			sk.Write(StreamSocket{m.badHandle(b)}, make([]byte, size), mode, r.cb)
		} else {
			sk.Read(StreamSocket{m.badHandle(b)}, make([]byte, size), mode, r.cb)
		}
		if !r.done || r.status != IOStatusInvalidHandle {
			m.t.Fatalf("I/O on a bad handle: %+v", r)
		}
		return
	}
	ms := m.socks[i]
	slot := &ms.rd
	if write {
		slot = &ms.wr
	}
	busy := *slot != 0
	tok := m.token()
	returned := false
	cb := func(_ StreamSocket, st IOStatus, n int) {
		m.called(tok, "I/O")
		if st == IOStatusBusy {
			if !busy {
				m.t.Fatal("busy reported with nothing pending")
			}
			return
		}
		if returned {
			m.pendingIO--
		}
		if *slot == tok {
			*slot = 0
		}
	}
	if !busy {
		*slot = tok
	}
	switch {
	case write:
		sk.Write(ms.s, make([]byte, size), mode, cb)
	case size == 15: // a loaned read
		sk.ReadLoaned(ms.s, func(s StreamSocket, st IOStatus, data []byte) {
			if (st == IOStatusOK) != (len(data) > 0) {
				m.t.Fatalf("loaned read: %v with %d bytes", st, len(data))
			}
			cb(s, st, len(data))
		})
	default:
		sk.Read(ms.s, make([]byte, size), mode, cb)
	}
	returned = true
	if !busy && *slot == tok { // still pending after the call
		m.pendingIO++
	}
}

func (m *model) refOp(a, b byte) {
	all := len(m.timers) + len(m.events) + len(m.socks)
	i := pick(a, all)
	add := b&1 == 0
	switch {
	case i < 0:
		h := m.badHandle(b)
		m.d.Timers().ReleaseRef(TimerID{h})
		m.d.Events().ReleaseRef(EventID{h})
		m.d.Sockets().ReleaseRef(StreamSocket{h})
	case i < len(m.timers):
		x := m.timers[i]
		if x.refs == 0 {
			return // only its wait holds it: the caller has no reference to drop
		}
		if add {
			m.d.Timers().AddRef(x.id)
			x.refs++
			return
		}
		x.refs--
		m.d.Timers().ReleaseRef(x.id)
		if x.refs == 0 {
			// The wait holds it while the timer is armed; a starved wait
			// is cancelled.
			if !x.armed {
				m.cancel(x.wait)
				x.wait = 0
			}
			if x.wait == 0 {
				x.armed = false
				m.stale = append(m.stale, x.id)
				m.timers = append(m.timers[:i], m.timers[i+1:]...)
			}
		}
	case i < len(m.timers)+len(m.events):
		i -= len(m.timers)
		ev := m.events[i]
		if add {
			m.d.Events().AddRef(ev.id)
			ev.refs++
			return
		}
		ev.refs--
		m.d.Events().ReleaseRef(ev.id)
		if ev.refs == 0 {
			for _, w := range ev.waits {
				m.cancel(w.token)
			}
			m.stale = append(m.stale, ev.id)
			m.events = append(m.events[:i], m.events[i+1:]...)
		}
	default:
		i -= len(m.timers) + len(m.events)
		ms := m.socks[i]
		if add {
			m.d.Sockets().AddRef(ms.s)
			ms.refs++
			return
		}
		ms.refs--
		m.d.Sockets().ReleaseRef(ms.s)
		if ms.refs == 0 {
			m.dropSock(i)
		}
	}
}

func (m *model) dropSock(i int) {
	ms := m.socks[i]
	for _, tok := range []int{ms.rd, ms.wr, ms.connecting} {
		if tok != 0 {
			m.cancel(tok)
			m.pendingIO--
		}
	}
	m.stale = append(m.stale, ms.s)
	m.socks = append(m.socks[:i], m.socks[i+1:]...)
}

// process runs the loop once and applies what the model knows must happen:
// due timers fire, queued triggers wake their waits; then it checks that
// those callbacks ran.
func (m *model) process() {
	var mustRun []int
	for _, x := range m.timers {
		if x.due {
			x.due = false
			if !x.periodic {
				x.armed = false
			}
			if x.wait != 0 {
				mustRun = append(mustRun, x.wait)
			}
		}
	}
	for _, tr := range m.pendingTriggers {
		if tr.ev.refs == 0 {
			continue
		}
		n := len(tr.ev.waits)
		if !tr.all && n > 1 {
			n = 1
		}
		for _, w := range tr.ev.waits[:n] {
			mustRun = append(mustRun, w.token)
		}
		tr.ev.waits = tr.ev.waits[n:]
	}
	m.pendingTriggers = m.pendingTriggers[:0]
	m.d.Core().ProcessEvents(0)
	for _, tok := range mustRun {
		if m.calls[tok] != 1 {
			m.t.Fatalf("step %d: callback %d should have run once, ran %d times", m.steps, tok, m.calls[tok])
		}
	}
}

// sweep forgets the timers that only their wait held, once it has run: the
// driver freed them.
func (m *model) sweep() {
	for i := 0; i < len(m.timers); i++ {
		if x := m.timers[i]; x.refs == 0 && x.wait == 0 {
			m.stale = append(m.stale, x.id)
			m.timers = append(m.timers[:i], m.timers[i+1:]...)
			i--
		}
	}
}

func (m *model) finish() {
	for len(m.socks) > 0 {
		ms := m.socks[0]
		for ms.refs > 0 {
			ms.refs--
			m.d.Sockets().ReleaseRef(ms.s)
		}
		m.dropSock(0)
	}
	for _, x := range m.timers {
		m.cancel(x.wait)
		m.d.Timers().CancelWait(x.id)
		for ; x.refs > 0; x.refs-- {
			m.d.Timers().ReleaseRef(x.id)
		}
	}
	for _, ev := range m.events {
		for _, w := range ev.waits {
			m.cancel(w.token)
		}
		for ; ev.refs > 0; ev.refs-- {
			m.d.Events().ReleaseRef(ev.id)
		}
	}
	m.timers, m.events = nil, nil
	m.d.Sockets().ReleaseRef(m.lst)
	m.d.Core().ProcessEvents(0)
	if n := m.d.Core().WaiterCount(); n != 0 {
		m.t.Fatalf("WaiterCount %d after releasing everything", n)
	}
	if !m.d.Dispose() {
		m.t.Fatalf("handles left after releasing everything: %s", fmt.Sprint(m.d.OpenHandles()))
	}
	checkNoDriverGoroutines(m.t)
}

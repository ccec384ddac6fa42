// Package group runs a group of eventcore loops, one per core by default,
// and serves one address from all of them.
//
// Each loop is an [eventcore.Driver] made, run and disposed on a goroutine
// of its own; its callbacks run there, so the state of one loop needs no
// lock, and loops share nothing unless the program shares it. A handle
// belongs to the loop that gave it out, and every other loop refuses it
// (eventcore.ErrInvalidHandle). A setup
// function ([WithSetup]) runs on each loop before it serves, to build that
// loop's state; [Loop.Run] and [Group.RunAll] queue functions to a loop or
// to all of them (through [eventcore.Core.RunInOwnerThread]).
//
// [Group.ServeStream] listens on one address from every loop and hands each
// connection to one loop's callback, by the [Strategy] chosen: one
// SO_REUSEPORT listener per loop, which the kernel balances (Linux,
// DragonFly, FreeBSD), or one accepting loop that moves each connection to
// the loop with the fewest live connections, or to each loop in turn
// (every system).
// [Group.ServeDatagram] does the same for a datagram socket.
//
// A connection handed out counts as live on its loop until the program
// releases it with [Loop.Release] (in place of Sockets.ReleaseRef): the
// least-connections strategy balances on those counts, and a graceful
// [Group.Shutdown] waits for them to reach zero. A connection released
// with Sockets.ReleaseRef instead is noticed later, when the loop sweeps
// its stale handles (during a shutdown, or every second while the group
// serves with least-connections).
//
// The package uses only eventcore's exported API; it adds no lock to the
// loops.
package group

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eventcore-go/eventcore"
)

// Group is a set of loops. Create it with [New]; end it with
// [Group.Shutdown].
type Group struct {
	loops []*Loop
	wg    sync.WaitGroup // the loops' goroutines

	mu       sync.Mutex // serializes Serve calls and Shutdown's start
	closing  bool
	shutOnce sync.Once
	shutErr  error
	shutDone chan struct{}

	sweeps bool // some ServeStream balances on live counts: loops sweep stale handles
}

// Loop is one loop of a group. Its methods belong to the loop's goroutine
// (from Setup and from the loop's callbacks), except Run, Index,
// Connections and Group, which any goroutine may call.
type Loop struct {
	g     *Group
	index int
	d     *eventcore.Driver

	live atomic.Int64 // connections handed to this loop and not yet released

	// Owned by the loop's goroutine.
	conns     map[eventcore.StreamSocket]struct{} // live connections handed out here
	listeners []eventcore.StreamListener
	dgrams    []eventcore.DatagramSocket
	hooks     []func(deadline time.Time)
	stopEv    eventcore.EventID
	stopped   bool
	draining  bool
	deadline  time.Time
	drained   chan struct{} // closed once draining and no connection is left
	sweep     eventcore.TimerID
	leaked    []eventcore.HandleInfo // what Dispose found open
}

type config struct {
	loops      int
	lock       bool
	driverOpts []eventcore.Option
	setup      func(*Loop) error
}

// Option configures [New].
type Option func(*config)

// WithLoops sets the number of loops; n < 1 (and the default) means
// runtime.GOMAXPROCS(0), one loop per core the program may use.
func WithLoops(n int) Option { return func(c *config) { c.loops = n } }

// WithLockOSThread locks each loop's goroutine to its OS thread for the
// loop's life (runtime.LockOSThread), so that the kernel keeps a loop on
// one thread, for thread-local state or CPU affinity set by the program.
// The winapi driver locks its goroutine whatever this says: Windows
// completes a loop's I/O on the thread that started it.
func WithLockOSThread() Option { return func(c *config) { c.lock = true } }

// WithDriverOptions passes opts to [eventcore.New] for every loop (for
// example [eventcore.WithDriver]).
func WithDriverOptions(opts ...eventcore.Option) Option {
	return func(c *config) { c.driverOpts = append(c.driverOpts, opts...) }
}

// WithSetup runs fn on each loop's goroutine once its driver exists and
// before New returns: the place to build the loop's own state (keyed by
// [Loop.Index]) and to start what the loop runs besides served
// connections. If fn fails on any loop, New shuts down every loop and
// returns the first error.
func WithSetup(fn func(*Loop) error) Option { return func(c *config) { c.setup = fn } }

// New starts a group of loops and returns once every loop runs and its
// setup function (WithSetup) has returned.
func New(opts ...Option) (*Group, error) {
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	n := cfg.loops
	if n < 1 {
		n = runtime.GOMAXPROCS(0)
	}
	g := &Group{loops: make([]*Loop, n), shutDone: make(chan struct{})}
	started := make(chan startResult, n)
	for i := range g.loops {
		l := &Loop{g: g, index: i, conns: make(map[eventcore.StreamSocket]struct{}), drained: make(chan struct{})}
		g.loops[i] = l
		g.wg.Add(1)
		go l.run(&cfg, started)
	}
	var first error
	var running []*Loop
	for range n {
		r := <-started
		if r.err == nil {
			running = append(running, r.l)
		} else if first == nil {
			first = r.err
		}
	}
	if first != nil {
		for _, l := range running {
			l.stop()
		}
		g.wg.Wait()
		return nil, first
	}
	return g, nil
}

// startResult is what a loop's goroutine reports once it runs, or failed
// to start: then it has ended already.
type startResult struct {
	l   *Loop
	err error
}

// run is the loop's goroutine: it makes the driver, runs it until the
// group stops it, then disposes of it.
func (l *Loop) run(cfg *config, started chan<- startResult) {
	defer l.g.wg.Done()
	if cfg.lock {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
	}
	d, err := eventcore.New(cfg.driverOpts...)
	if err != nil {
		started <- startResult{l, fmt.Errorf("group: loop %d: %w", l.index, err)}
		return
	}
	l.d = d
	// The stop event's wait keeps the loop waiting while it has nothing
	// else to do, and its trigger ends the loop.
	ev := d.Events()
	l.stopEv = ev.Create()
	ev.Wait(l.stopEv, func(eventcore.EventID) { l.stopped = true })
	if cfg.setup != nil {
		if err := cfg.setup(l); err != nil {
			l.dispose()
			started <- startResult{l, fmt.Errorf("group: setup of loop %d: %w", l.index, err)}
			return
		}
	}
	started <- startResult{l, nil}
	for !l.stopped {
		d.Core().ProcessEvents(eventcore.Infinite)
	}
	l.dispose()
}

// dispose frees what the group made on the loop, then the driver, and
// records the handles the program left open.
func (l *Loop) dispose() {
	l.closeServing()
	t := l.d.Timers()
	t.CancelWait(l.sweep) // the wait holds a reference too
	t.ReleaseRef(l.sweep)
	l.d.Events().ReleaseRef(l.stopEv)
	if !l.d.Dispose() {
		l.leaked = l.d.OpenHandles()
	}
}

// stop ends the loop: it triggers the loop's stop event, from any
// goroutine.
func (l *Loop) stop() { l.d.Events().Trigger(l.stopEv, true) }

// Len returns the number of loops.
func (g *Group) Len() int { return len(g.loops) }

// Loop returns loop i, 0 ≤ i < Len.
func (g *Group) Loop(i int) *Loop { return g.loops[i] }

// RunAll queues fn to run on every loop, on its goroutine, as
// [Loop.Run] does, and returns a channel closed once fn has returned on
// all of them. Functions queued after Shutdown has ended the loops never
// run (and the channel is never closed).
func (g *Group) RunAll(fn func(*Loop)) <-chan struct{} {
	done := make(chan struct{})
	var left atomic.Int32
	left.Store(int32(len(g.loops)))
	for _, l := range g.loops {
		l.Run(func() {
			fn(l)
			if left.Add(-1) == 0 {
				close(done)
			}
		})
	}
	return done
}

// Run queues fn to run on the loop's goroutine (after the functions
// queued before it) and wakes the loop; any goroutine may call it. fn
// runs even while the loop has nothing else to do; a function queued
// after Shutdown has ended the loop never runs.
func (l *Loop) Run(fn func()) { l.d.Core().RunInOwnerThread(fn) }

// Index returns the loop's position in its group, 0 ≤ Index < Len.
func (l *Loop) Index() int { return l.index }

// Group returns the loop's group.
func (l *Loop) Group() *Group { return l.g }

// Driver returns the loop's driver, for use on the loop's goroutine only
// (its Core().RunInOwnerThread, Core().Exit and Events().Trigger excepted,
// as always). The group disposes of it: the program must not.
func (l *Loop) Driver() *eventcore.Driver { return l.d }

// Connections returns the number of connections handed to the loop and
// not yet released; any goroutine may call it (the number may be a moment
// old).
func (l *Loop) Connections() int { return int(l.live.Load()) }

// track counts conn, handed to the program on this loop, as live; the
// caller has counted it in l.live already.
func (l *Loop) track(conn eventcore.StreamSocket) { l.conns[conn] = struct{}{} }

// Release drops the program's reference to conn, a connection the group
// handed to this loop, as Sockets.ReleaseRef does, and when that frees
// the socket counts the connection as closed. It reports whether the
// socket is still alive (another reference holds it). For any other
// socket it is Sockets.ReleaseRef.
func (l *Loop) Release(conn eventcore.StreamSocket) bool {
	if l.d.Sockets().ReleaseRef(conn) {
		return true
	}
	l.forget(conn)
	return false
}

// forget stops counting conn, if it was counted.
func (l *Loop) forget(conn eventcore.StreamSocket) {
	if _, ok := l.conns[conn]; !ok {
		return
	}
	delete(l.conns, conn)
	l.uncount()
}

// uncount takes one connection off the live count and, during a
// shutdown, reports the loop drained when none is left.
func (l *Loop) uncount() {
	if l.live.Add(-1) == 0 && l.draining {
		l.signalDrained()
	}
}

func (l *Loop) signalDrained() {
	select {
	case <-l.drained:
	default:
		close(l.drained)
	}
}

// sweepStale forgets the counted connections that the program released
// without Release: their handles are stale.
func (l *Loop) sweepStale() {
	for conn := range l.conns {
		if l.d.LastError(conn) == eventcore.ErrInvalidHandle {
			l.forget(conn)
		}
	}
}

// startSweeping runs sweepStale every interval while the loop lives.
func (l *Loop) startSweeping(interval time.Duration) {
	t := l.d.Timers()
	if l.sweep != (eventcore.TimerID{}) {
		t.Set(l.sweep, interval, interval)
		return
	}
	l.sweep = t.Create()
	t.Set(l.sweep, interval, interval)
	var again func(eventcore.TimerID, bool)
	again = func(id eventcore.TimerID, fired bool) {
		if fired {
			l.sweepStale()
			t.Wait(id, again)
		}
	}
	t.Wait(l.sweep, again)
}

// ErrClosed is returned by the Serve methods once Shutdown has begun.
var ErrClosed = errors.New("group: shut down")

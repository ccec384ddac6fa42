package group

import (
	"errors"
	"fmt"
	"time"

	"github.com/eventcore-go/eventcore"
)

// Strategy is how [Group.ServeStream] spreads connections over the loops.
type Strategy uint8

const (
	// Default is ReusePort where the kernel balances SO_REUSEPORT
	// listeners (Linux, DragonFly, FreeBSD) and the address is not a
	// Unix-domain one, else LeastConnections.
	Default Strategy = iota
	// ReusePort gives every loop a listener of its own on the address,
	// with SO_REUSEPORT: the kernel picks a listener for each connection
	// by a hash of its addresses, so loops share no accept queue and no
	// connection moves. The kernel balances arrivals, not live
	// connections. Only where the kernel balances such listeners (Linux,
	// DragonFly, FreeBSD; elsewhere one of them would take every
	// connection):
	// other systems, and Unix-domain addresses, get an error that wraps
	// eventcore.ErrNotSupported.
	ReusePort
	// LeastConnections listens on loop 0 only, which hands each
	// connection to the loop with the fewest live connections (see
	// [Loop.Release]); ties go to each loop in turn. A connection for
	// another loop is detached from loop 0 ([eventcore.Sockets.Detach])
	// and adopted by that loop, on its goroutine. Every system.
	LeastConnections
	// RoundRobin listens on loop 0 only, which hands the connections to
	// the loops in turn, as LeastConnections does. Every system; with
	// connections of mixed lifetimes, the loops' loads drift apart.
	RoundRobin
)

func (s Strategy) String() string {
	switch s {
	case Default:
		return "default"
	case ReusePort:
		return "reuseport"
	case LeastConnections:
		return "least-connections"
	case RoundRobin:
		return "round-robin"
	}
	return fmt.Sprintf("Strategy(%d)", uint8(s))
}

// resolve turns Default into the strategy for addr on this system, and
// checks that the strategy can serve addr.
func (s Strategy) resolve(addr eventcore.Addr) (Strategy, error) {
	balances := kernelBalancesReusePort && !addr.IsUnix()
	switch s {
	case Default:
		if balances {
			return ReusePort, nil
		}
		return LeastConnections, nil
	case ReusePort:
		if !balances {
			return s, fmt.Errorf("group: %w: the kernel does not balance SO_REUSEPORT listeners on %v here", eventcore.ErrNotSupported, addr)
		}
		return s, nil
	case LeastConnections, RoundRobin:
		return s, nil
	}
	return s, fmt.Errorf("group: unknown strategy %v", s)
}

// ConnCallback is called on the goroutine of the loop a connection is
// handed to, with that loop, the connection and its peer's address. The
// connection has one reference, the callback's receiver's: release it
// with [Loop.Release].
type ConnCallback func(l *Loop, conn eventcore.StreamSocket, remote eventcore.Addr)

// DatagramCallback is called on a loop's goroutine with a datagram socket
// the group made on that loop.
type DatagramCallback func(l *Loop, sock eventcore.DatagramSocket)

// sweepEvery is how often loops look for connections released without
// Release while least-connections balances on their counts.
const sweepEvery = time.Second

// ServeStream listens on addr (port 0 picks a free port, the same for
// every loop) and calls cb for every connection, on the loop the strategy
// hands it to. It returns the address listened on. Call it from a
// goroutine other than the loops' (it waits for them); several calls
// serve several addresses. After Shutdown has begun it fails with
// ErrClosed.
func (g *Group) ServeStream(addr eventcore.Addr, s Strategy, cb ConnCallback) (eventcore.Addr, error) {
	if cb == nil {
		return eventcore.Addr{}, errors.New("group: ServeStream without a callback")
	}
	s, err := s.resolve(addr)
	if err != nil {
		return eventcore.Addr{}, err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closing {
		return eventcore.Addr{}, ErrClosed
	}
	if s != ReusePort {
		a := &acceptor{home: g.loops[0], strategy: s, cb: cb}
		bound, _, err := a.home.listen(addr, eventcore.ListenReuseAddress, a.accept)
		if err == nil && s == LeastConnections && !g.sweeps {
			g.sweeps = true
			g.RunAll(func(l *Loop) { l.startSweeping(sweepEvery) })
		}
		return bound, err
	}
	opts := eventcore.ListenReuseAddress | eventcore.ListenReusePort
	made := make([]eventcore.StreamListener, len(g.loops))
	var bound eventcore.Addr
	for i, l := range g.loops {
		a, lst, err := l.listen(addr, opts, l.direct(cb))
		if err != nil {
			for j, lst := range made[:i] {
				l := g.loops[j]
				l.Run(func() { l.unlisten(lst) })
			}
			return eventcore.Addr{}, fmt.Errorf("group: listening on loop %d: %w", i, err)
		}
		if i == 0 {
			bound, addr = a, a // the others bind the port the first one got
		}
		made[i] = lst
	}
	return bound, nil
}

// listen makes a listener on the loop, from another goroutine, and
// returns the address it is bound to.
func (l *Loop) listen(addr eventcore.Addr, opts eventcore.StreamListenOptions, cb eventcore.AcceptCallback) (eventcore.Addr, eventcore.StreamListener, error) {
	return openOn(l, func(s eventcore.Sockets) (eventcore.StreamListener, error) {
		return s.ListenStream(addr, opts, cb)
	}, func(lst eventcore.StreamListener) { l.listeners = append(l.listeners, lst) })
}

// openOn makes a socket on l with open, from another goroutine, and
// returns the address it is bound to; keep, on the loop, records it.
func openOn[H eventcore.SocketHandle](l *Loop, open func(eventcore.Sockets) (H, error), keep func(H)) (eventcore.Addr, H, error) {
	type result struct {
		addr eventcore.Addr
		h    H
		err  error
	}
	ch := make(chan result, 1)
	l.Run(func() {
		s := l.d.Sockets()
		h, err := open(s)
		if err == nil {
			var a eventcore.Addr
			if a, err = s.LocalAddress(h); err == nil {
				keep(h)
				ch <- result{a, h, nil}
				return
			}
			s.ReleaseRef(h)
		}
		ch <- result{err: err}
	})
	r := <-ch
	return r.addr, r.h, r.err
}

// unlisten closes one of the loop's listeners.
func (l *Loop) unlisten(lst eventcore.StreamListener) {
	for i, x := range l.listeners {
		if x == lst {
			l.listeners = append(l.listeners[:i], l.listeners[i+1:]...)
			l.d.Sockets().ReleaseRef(lst)
			return
		}
	}
}

// direct is the accept callback of a listener whose connections stay on
// its loop.
func (l *Loop) direct(cb ConnCallback) eventcore.AcceptCallback {
	return func(_ eventcore.StreamListener, conn eventcore.StreamSocket, remote eventcore.Addr) {
		l.live.Add(1)
		l.track(conn)
		cb(l, conn, remote)
	}
}

// acceptor is the listener of loop home that hands connections to the
// loops. Its fields belong to home's goroutine.
type acceptor struct {
	home     *Loop
	strategy Strategy
	cb       ConnCallback
	next     int // the loop to try first
}

func (a *acceptor) accept(_ eventcore.StreamListener, conn eventcore.StreamSocket, remote eventcore.Addr) {
	t := a.pick()
	if t == a.home {
		t.track(conn)
		a.cb(t, conn, remote)
		return
	}
	fd, err := a.home.d.Sockets().Detach(conn)
	if err != nil {
		// Not seen on a connection just accepted: it has nothing pending.
		a.home.d.Sockets().ReleaseRef(conn)
		t.Run(t.uncount)
		return
	}
	cb := a.cb
	t.Run(func() { t.adopt(fd, remote, cb) })
}

// pick chooses the loop for the next connection and counts the connection
// there at once, so that the next pick sees it even before that loop has
// adopted it.
func (a *acceptor) pick() *Loop {
	loops := a.home.g.loops
	n := len(loops)
	best := loops[a.next]
	if a.strategy == LeastConnections {
		min := best.live.Load()
		for i := 1; i < n && min > 0; i++ {
			l := loops[(a.next+i)%n]
			if c := l.live.Load(); c < min {
				best, min = l, c
			}
		}
	}
	a.next = (best.index + 1) % n
	best.live.Add(1)
	return best
}

// adopt takes over fd, a connection detached from the acceptor's loop and
// counted here already, and hands it to cb.
func (l *Loop) adopt(fd uintptr, remote eventcore.Addr, cb ConnCallback) {
	conn, err := l.d.Sockets().AdoptStream(fd)
	if err != nil {
		closeFD(fd)
		l.uncount()
		return
	}
	l.track(conn)
	cb(l, conn, remote)
}

// ServeDatagram makes datagram sockets bound to addr and calls cb with
// each, on its loop, before it returns: one socket per loop with
// eventcore.DatagramReusePort where the kernel spreads datagrams over
// such sockets by their addresses (Linux, DragonFly, FreeBSD; not for
// Unix-domain addresses), else one socket on loop 0.
// It returns the bound address. The group keeps a reference to each
// socket and releases it when Shutdown begins: a loop that still needs
// its socket then (to send replies) takes a reference of its own with
// Sockets.AddRef and releases it when done. Call it from a goroutine
// other than the loops'.
func (g *Group) ServeDatagram(addr eventcore.Addr, cb DatagramCallback) (eventcore.Addr, error) {
	if cb == nil {
		return eventcore.Addr{}, errors.New("group: ServeDatagram without a callback")
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closing {
		return eventcore.Addr{}, ErrClosed
	}
	loops, opts := g.loops[:1], eventcore.DatagramCreateOptions(0)
	if kernelBalancesReusePort && !addr.IsUnix() {
		loops, opts = g.loops, eventcore.DatagramReusePort|eventcore.DatagramReuseAddress
	}
	var bound eventcore.Addr
	made := make([]eventcore.DatagramSocket, len(loops))
	for i, l := range loops {
		a, sock, err := openOn(l, func(s eventcore.Sockets) (eventcore.DatagramSocket, error) {
			return s.CreateDatagramSocket(addr, eventcore.Addr{}, opts)
		}, func(sock eventcore.DatagramSocket) {
			l.dgrams = append(l.dgrams, sock)
			cb(l, sock)
		})
		if err != nil {
			for j, sock := range made[:i] {
				l := g.loops[j]
				l.Run(func() { l.closeDatagram(sock) })
			}
			return eventcore.Addr{}, fmt.Errorf("group: datagram socket on loop %d: %w", i, err)
		}
		if i == 0 {
			bound, addr = a, a
		}
		made[i] = sock
	}
	return bound, nil
}

// closeDatagram releases the group's reference to one of the loop's
// datagram sockets.
func (l *Loop) closeDatagram(sock eventcore.DatagramSocket) {
	for i, x := range l.dgrams {
		if x == sock {
			l.dgrams = append(l.dgrams[:i], l.dgrams[i+1:]...)
			l.d.Sockets().ReleaseRef(sock)
			return
		}
	}
}

// closeServing closes the loop's listeners and releases the group's
// references to its datagram sockets.
func (l *Loop) closeServing() {
	s := l.d.Sockets()
	for _, lst := range l.listeners {
		s.ReleaseRef(lst)
	}
	for _, sock := range l.dgrams {
		s.ReleaseRef(sock)
	}
	l.listeners, l.dgrams = nil, nil
}

package group

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"
)

// drainSweepEvery is how often a draining loop looks for connections
// released without Release.
const drainSweepEvery = 100 * time.Millisecond

// OnShutdown registers fn to run on the loop when a graceful shutdown
// begins, after every loop has stopped accepting: the loop's code closes
// its idle connections there, and lets busy ones finish (a server may
// answer the request in progress, then close). deadline is when the
// connections still open will be closed (the zero Time: no deadline).
// Registered during a shutdown, fn runs at once. Call it on the loop's
// goroutine.
func (l *Loop) OnShutdown(fn func(deadline time.Time)) {
	if l.draining {
		fn(l.deadline)
		return
	}
	l.hooks = append(l.hooks, fn)
}

// Draining reports whether a graceful shutdown has begun: a server may
// then close each connection once its request is answered. Call it on the
// loop's goroutine.
func (l *Loop) Draining() bool { return l.draining }

// Shutdown ends the group gracefully, in four steps:
//
//  1. every loop stops accepting: the listeners of ServeStream close (the
//     connections the kernel had queued and no loop had accepted are
//     reset), the group releases its datagram sockets;
//  2. every loop runs its OnShutdown functions, then the group waits until
//     the connections it handed out are all released (see [Loop.Release]),
//     or until ctx is done;
//  3. if ctx ended the wait, each connection still open is shut down in
//     both directions (its pending reads and writes complete with
//     IOStatusDisconnected, so the loop's code sees it end) and released;
//  4. every loop's driver is disposed of, and its goroutine ends.
//
// It returns nil if all went so; an error that wraps ctx.Err() if step 3
// closed connections, and one that lists the handles a loop left open
// when disposed of (timers, sockets of its own: Dispose closed them).
// Any goroutine may call Shutdown except a loop's own (it waits for the
// loops: start it there with go g.Shutdown(ctx)), a signal handler's
// goroutine among them; later calls wait for the first to finish and
// return its result.
func (g *Group) Shutdown(ctx context.Context) error {
	g.shutOnce.Do(func() {
		g.mu.Lock()
		g.closing = true
		g.mu.Unlock()
		g.shutErr = g.shutdown(ctx)
		close(g.shutDone)
	})
	<-g.shutDone
	return g.shutErr
}

func (g *Group) shutdown(ctx context.Context) error {
	deadline, _ := ctx.Deadline()
	// Every loop stops accepting before any drains, so that a connection
	// loop 0 accepted is queued for its loop before that loop's drain
	// starts, and counted there.
	<-g.RunAll((*Loop).closeServing)
	<-g.RunAll(func(l *Loop) { l.beginDrain(deadline) })
	var errs []error
	for _, l := range g.loops {
		select {
		case <-l.drained:
			continue
		case <-ctx.Done():
		}
		var left atomic.Int64
		<-g.RunAll(func(l *Loop) { left.Add(int64(l.closeLeft())) })
		errs = append(errs, fmt.Errorf("group: %d connections still open were closed: %w", left.Load(), ctx.Err()))
		break
	}
	for _, l := range g.loops {
		l.stop()
	}
	g.wg.Wait()
	for _, l := range g.loops {
		if len(l.leaked) > 0 {
			errs = append(errs, fmt.Errorf("group: loop %d was disposed of with handles open: %+v", l.index, l.leaked))
		}
	}
	return errors.Join(errs...)
}

// beginDrain starts the loop's part of a graceful shutdown.
func (l *Loop) beginDrain(deadline time.Time) {
	l.draining, l.deadline = true, deadline
	for _, fn := range l.hooks {
		fn(deadline)
	}
	l.hooks = nil
	l.sweepStale()
	if l.live.Load() == 0 {
		l.signalDrained()
	}
	l.startSweeping(drainSweepEvery)
}

// closeLeft shuts down and releases the connections still counted on the
// loop, and returns how many there were.
func (l *Loop) closeLeft() int {
	l.sweepStale()
	n := len(l.conns)
	s := l.d.Sockets()
	for conn := range l.conns {
		// The loop's code hears of it through its pending operations,
		// and may release the connection there.
		s.Shutdown(conn, true, true)
		for s.ReleaseRef(conn) {
		}
		l.forget(conn)
	}
	return n
}

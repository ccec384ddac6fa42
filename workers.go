package eventcore

import "sync"

// The worker pool runs what has no asynchronous form on a readiness driver
// (file I/O, DNS resolution, opening files) off the loop, on at most
// max goroutines per driver, and hands each finished job back to the loop
// through the cross-goroutine queue. Workers start when work first needs
// them, park on a condition variable while idle, and end with Dispose. Jobs
// are objects that live with their handle and are reused, so steady-state
// file I/O allocates nothing.

// job is a piece of work for the pool.
type job interface {
	// run does the blocking part, on a worker goroutine.
	run()
	// finish delivers the result, on the loop's owner goroutine.
	finish(l *loop)
}

// DefaultWorkers is the size of a driver's worker pool unless WithWorkers
// says otherwise.
const DefaultWorkers = 8

// WithWorkers sets how many goroutines at most a driver uses for work that
// has no asynchronous form on its platform (file I/O and opening files on
// readiness drivers, DNS lookups everywhere). Values below 1 mean 1.
func WithWorkers(n int) Option { return func(c *config) { c.workers = max(n, 1) } }

type workerPool struct {
	mu      sync.Mutex
	work    sync.Cond // signalled when a job is queued or the pool closes
	queue   []job
	head    int
	started int // workers started
	idle    int // workers parked on work
	max     int
	closed  bool
	xq      *crossQueue
}

func (p *workerPool) submit(j job) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	if p.work.L == nil {
		p.work.L = &p.mu
	}
	p.queue = append(p.queue, j)
	switch {
	case p.idle > 0:
		p.work.Signal()
	case p.started < p.max:
		p.started++
		go p.worker()
	}
	p.mu.Unlock()
}

func (p *workerPool) worker() {
	p.mu.Lock()
	for {
		for p.head == len(p.queue) && !p.closed {
			p.queue, p.head = p.queue[:0], 0
			p.idle++
			p.work.Wait()
			p.idle--
		}
		if p.closed {
			p.mu.Unlock()
			return
		}
		j := p.queue[p.head]
		p.queue[p.head] = nil
		p.head++
		p.mu.Unlock()
		j.run()
		p.xq.push(crossItem{op: crossJob, job: j})
		p.mu.Lock()
	}
}

// close drops the queued jobs and ends the workers; running jobs finish
// first, and their results are dropped by the closed cross-goroutine queue.
func (p *workerPool) close() {
	p.mu.Lock()
	p.closed = true
	clear(p.queue)
	p.queue, p.head = nil, 0
	if p.work.L != nil {
		p.work.Broadcast()
	}
	p.mu.Unlock()
}

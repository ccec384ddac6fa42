package eventcore

import "sync"

// The worker pool runs what has no asynchronous form on a readiness driver
// (file I/O, DNS resolution, opening files) off the loop, on at most
// maxWorkers goroutines per driver, and hands each finished job back to the
// loop through the cross-goroutine queue. Workers exist only while there is
// work: an idle pool has no goroutine. Jobs are objects that live with their
// handle and are reused, so steady-state file I/O allocates nothing.

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
	queue   []job
	head    int
	running int
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
	p.queue = append(p.queue, j)
	start := p.running < p.max
	if start {
		p.running++
	}
	p.mu.Unlock()
	if start {
		go p.work()
	}
}

func (p *workerPool) work() {
	for {
		p.mu.Lock()
		if p.head == len(p.queue) || p.closed {
			p.queue, p.head = p.queue[:0], 0
			p.running--
			p.mu.Unlock()
			return
		}
		j := p.queue[p.head]
		p.queue[p.head] = nil
		p.head++
		p.mu.Unlock()
		j.run()
		p.xq.push(crossItem{op: crossJob, job: j})
	}
}

// close drops the queued jobs; running ones finish, and their results are
// dropped by the closed cross-goroutine queue.
func (p *workerPool) close() {
	p.mu.Lock()
	p.closed = true
	clear(p.queue)
	p.queue, p.head = nil, 0
	p.mu.Unlock()
}

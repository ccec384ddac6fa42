package eventcore

import "sync"

// Worker pools run what has no asynchronous form on a readiness driver
// (file I/O, DNS resolution, opening files) off the loop, on at most
// max goroutines per pool, and hand each finished job back to the loop
// through the cross-goroutine queue. A driver has two pools: one for files,
// one for DNS lookups, so that slow name servers cannot hold back file I/O.
// Workers start when work first needs them, park on a condition variable
// while idle, and end with Dispose. Jobs are objects that live with their
// handle and are reused, so steady-state file I/O allocates nothing.

// job is a piece of work for a pool.
type job interface {
	// run does the blocking part, on a worker goroutine.
	run()
	// finish delivers the result, on the loop's owner goroutine.
	finish(l *loop)
}

// jobGate lets the loop stop a job that a worker may be running. The
// worker passes the gate (enter … leave) around each step that uses what
// the job does not own, a caller's buffer or a descriptor the loop may
// close, and skips the step once the job is cancelled; cancel takes the
// gate's lock, so when it returns no step is in flight and none will
// start. A job not yet started is thereby dropped; one in a step finishes
// that step (one system call) first.
type jobGate struct {
	mu        sync.Mutex
	cancelled bool // written by the loop under mu
	entered   bool // a step was entered: written by the worker under mu
}

// enter begins a step; false means the job was cancelled: do nothing.
func (g *jobGate) enter() bool {
	g.mu.Lock()
	if g.cancelled {
		g.mu.Unlock()
		return false
	}
	g.entered = true
	return true
}

// leave ends the step enter began.
func (g *jobGate) leave() { g.mu.Unlock() }

// cancel stops the job, waiting for a step in flight, and reports whether
// any step was entered. It runs on the loop.
func (g *jobGate) cancel() (entered bool) {
	g.mu.Lock()
	g.cancelled = true
	entered = g.entered
	g.mu.Unlock()
	return entered
}

// DefaultWorkers is the size of a driver's file worker pool unless
// WithWorkers says otherwise.
const DefaultWorkers = 8

// DefaultDNSWorkers is the number of DNS lookups a driver runs at once
// unless WithDNSWorkers says otherwise.
const DefaultDNSWorkers = 8

// WithWorkers sets how many goroutines at most a driver uses for file work
// that has no asynchronous form on its platform: reads, writes,
// truncations and closes on readiness drivers (iouring: truncations only
// where the kernel lacks IORING_OP_FTRUNCATE), and opening files
// asynchronously everywhere. Values below 1 mean 1. DNS lookups have a
// pool of their own (see [WithDNSWorkers]), so they never delay file work.
func WithWorkers(n int) Option { return func(c *config) { c.workers = max(n, 1) } }

// WithDNSWorkers sets how many DNS lookups at most a driver runs at once,
// each on a goroutine of its own pool; further lookups wait for one to end
// (a cancelled lookup ends at once). Values below 1 mean 1.
func WithDNSWorkers(n int) Option { return func(c *config) { c.dnsWorkers = max(n, 1) } }

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
		p.xq.push(crossItem{op: crossJob, x: j})
		p.mu.Lock()
	}
}

// close drops the queued jobs and ends the workers; running jobs finish
// first, and their results are dropped by the closed cross-goroutine queue.
// Nothing leaks with them: Dispose cancels every job and frees what it
// holds itself (fileFree, disposeOpens, disposeLookups).
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

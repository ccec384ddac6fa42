package tlsstream

import (
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eventcore-go/eventcore"
)

// The handshake is crypto/tls's own straight-line function, run on a
// goroutine of the layer's pool. Its transport hands over to the loop as
// crypto/tls's QUIC support does (quic.go): a Read with nothing to read
// publishes its buffer, queues blocked on the loop and waits; the loop
// flushes what the handshake wrote, reads from the socket into that very
// buffer, and wakes the goroutine with the count. Each side touches the
// buffer and the write queue only while it holds the turn, so there are
// no locks on them; when the goroutine ends, finish runs on the loop.

// Who holds a handshake's turn: whether the goroutine or the loop may touch
// the read buffer it waits on and the stream's write queue.
const (
	turnRunning   int32 = iota // the goroutine runs crypto/tls
	turnWaiting                // the goroutine waits; the loop has not taken over yet
	turnLoop                   // the loop has taken over, between its steps
	turnBusy                   // the loop is in a step that touches the buffers
	turnAbandoned              // the goroutine gave up (its backstop): nobody touches them
)

type handshake struct {
	s    *Stream
	turn atomic.Int32
	// done is closed by the loop when the stream gives up on the handshake
	// (closed, failed, timed out): the goroutine's wait ends.
	done chan struct{}
	wake chan result // the loop's answer to a waiting Read
	want []byte      // the buffer a waiting Read fills
	held result      // an answer held back until the write queue is flushed
	hold bool

	timer         eventcore.TimerID // the handshake timeout, on the loop
	deadline      time.Time         // the same, for the goroutine's backstop
	local, remote net.Addr          // for crypto/tls, taken on the loop
	backstop      *time.Timer       // the deadline, on the goroutine
	err           error             // what Handshake returned
	aborted       bool

	blockedFn, finishFn func()
}

type result struct {
	n   int
	err error
}

// beginHandshake arms the handshake timeout; the handshake itself starts
// with submit.
func (s *Stream) beginHandshake() {
	l := s.l
	hs := &handshake{s: s, done: make(chan struct{}), wake: make(chan result, 1), deadline: time.Now().Add(l.timeout)}
	hs.blockedFn, hs.finishFn = hs.blocked, hs.finish
	la, _ := l.s.LocalAddress(s.sock)
	ra, _ := l.s.RemoteAddress(s.sock)
	hs.local, hs.remote = netAddr(la), netAddr(ra)
	tm := l.d.Timers()
	hs.timer = tm.Create()
	if p := eventcore.UserData[*Stream](l.d, hs.timer); p != nil {
		*p = s
		tm.Set(hs.timer, l.timeout, 0)
		tm.Wait(hs.timer, l.onTimeout)
	}
	s.hs = hs
}

func (l *Layer) handshakeTimedOut(t eventcore.TimerID, fired bool) {
	if s := l.stream(t); s != nil && fired {
		s.fail(ErrHandshakeTimeout)
	}
}

// hello: a server's client has sent its first bytes; the handshake may
// take a handshaker.
func (l *Layer) hello(sock eventcore.StreamSocket, st eventcore.IOStatus, _ int) {
	s := l.stream(sock)
	if s == nil || s.hs == nil || s.freed {
		return
	}
	if st != eventcore.IOStatusOK {
		s.disc = st == eventcore.IOStatusDisconnected
		s.fail(s.sockErr())
		return
	}
	l.pool.submit(s.hs)
}

// abort gives up on the handshake, on the loop: the goroutine, if it runs,
// sees done and ends; the timer is freed. Idempotent.
func (hs *handshake) abort() {
	if hs.aborted {
		return
	}
	hs.aborted = true
	close(hs.done)
	tm := hs.s.l.d.Timers()
	tm.CancelWait(hs.timer)
	tm.ReleaseRef(hs.timer)
}

// run is the handshake, on a handshaker goroutine.
func (hs *handshake) run() {
	hs.turn.Store(turnRunning)
	// The backstop ends a wait should the loop stop running (its driver
	// disposed with the stream open); while it runs, its own timer fires
	// first.
	hs.backstop = time.NewTimer(time.Until(hs.deadline))
	select {
	case <-hs.done:
		hs.err = ErrClosed
	default:
		hs.err = hs.s.tc.Handshake()
	}
	hs.backstop.Stop()
	hs.s.l.core.RunInOwnerThread(hs.finishFn)
}

// read is the transport's Read during the handshake, on the goroutine.
func (hs *handshake) read(p []byte) (int, error) {
	if hs.turn.Load() == turnAbandoned {
		return 0, ErrHandshakeTimeout
	}
	hs.want = p
	hs.turn.Store(turnWaiting)
	hs.s.l.core.RunInOwnerThread(hs.blockedFn)
	select {
	case r := <-hs.wake:
		return r.n, r.err
	case <-hs.done:
		return 0, ErrClosed
	case <-hs.backstop.C:
	}
	for {
		if hs.turn.CompareAndSwap(turnWaiting, turnAbandoned) || hs.turn.CompareAndSwap(turnLoop, turnAbandoned) {
			return 0, ErrHandshakeTimeout
		}
		if hs.turn.Load() == turnRunning { // answered meanwhile
			r := <-hs.wake
			return r.n, r.err
		}
		runtime.Gosched() // the loop is in a step: a few instructions
	}
}

// write is the transport's Write during the handshake, on the goroutine:
// it queues p, for the loop to flush when the goroutine next waits.
func (hs *handshake) write(p []byte) (int, error) {
	if hs.turn.Load() == turnRunning {
		hs.s.more = append(hs.s.more, p...)
	}
	return len(p), nil
}

// blocked runs on the loop when the goroutine waits: it flushes the write
// queue and waits for the socket to have something to read.
func (hs *handshake) blocked() {
	s := hs.s
	if s.freed || !hs.turn.CompareAndSwap(turnWaiting, turnBusy) {
		return
	}
	s.flush()
	hs.turn.Store(turnLoop)
	if !s.freed {
		s.l.s.WaitForData(s.sock, s.l.onHsReadable)
	}
}

// hsReadable reads into the waiting goroutine's buffer.
func (l *Layer) hsReadable(sock eventcore.StreamSocket, st eventcore.IOStatus, _ int) {
	s := l.stream(sock)
	if s == nil || s.hs == nil || s.freed {
		return
	}
	hs := s.hs
	if st != eventcore.IOStatusOK {
		s.disc = st == eventcore.IOStatusDisconnected
		hs.answer(result{err: s.sockErr()})
		return
	}
	if !hs.turn.CompareAndSwap(turnLoop, turnBusy) {
		return
	}
	s.drained = false
	n, err := s.recv(hs.want)
	hs.turn.Store(turnLoop)
	if err == errWouldBlock {
		l.s.WaitForData(sock, l.onHsReadable)
		return
	}
	hs.answer(result{n, err})
}

// answer wakes the goroutine with r, once the write queue is flushed: the
// goroutine then owns the queue again.
func (hs *handshake) answer(r result) {
	if hs.s.flying {
		hs.held, hs.hold = r, true
		return
	}
	hs.hold = false
	if !hs.turn.CompareAndSwap(turnLoop, turnRunning) {
		return
	}
	hs.want = nil
	hs.wake <- r
	// Let the goroutine run now: on a loop that waits in a system call
	// (poll), with GOMAXPROCS 1, it would otherwise wait for the runtime
	// to take the P back from that call.
	runtime.Gosched()
}

// flushed: the write queue has been flushed; an answer held back goes out.
func (hs *handshake) flushed() {
	if hs.hold {
		hs.answer(hs.held)
	}
}

// finish runs on the loop when the goroutine's handshake has returned.
func (hs *handshake) finish() {
	s := hs.s
	s.hs = nil
	hs.abort()
	switch {
	case s.freed:
		s.out, s.more = nil, nil
	case hs.err != nil:
		s.fail(hs.err)
	default:
		s.hsDone = true
		s.flush() // the handshake's last flight
		if cb := s.hcb; cb != nil {
			s.hcb = nil
			cb(s, nil)
		}
		s.readStep()
		s.writeStep()
	}
}

// pool runs handshakes on at most max goroutines at once; the others wait
// in order. A goroutine takes the next waiting handshake when its own
// ends, and ends when none waits.
type pool struct {
	mu      sync.Mutex
	max     int
	running int
	queue   []*handshake
}

func (p *pool) submit(hs *handshake) {
	p.mu.Lock()
	if p.running < p.max {
		p.running++
		p.mu.Unlock()
		go p.work(hs)
		runtime.Gosched() // as in answer
		return
	}
	p.queue = append(p.queue, hs)
	p.mu.Unlock()
}

func (p *pool) work(hs *handshake) {
	for hs != nil {
		hs.run()
		p.mu.Lock()
		if len(p.queue) == 0 {
			hs = nil
			p.running--
			p.queue = nil
		} else {
			hs = p.queue[0]
			p.queue[0] = nil
			p.queue = p.queue[1:]
		}
		p.mu.Unlock()
	}
}

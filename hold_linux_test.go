package eventcore

import (
	"runtime"
	"testing"
	"time"
)

// TestHoldingWaitWoken: a poller's wait that holds the P (see "Holding" in
// loop_posix.go) is ended by a wake-up that came before it began, and by
// one that comes while it blocks, which on epoll must go through the
// eventfd rather than the runtime.
func TestHoldingWaitWoken(t *testing.T) {
	for _, mk := range []struct {
		name string
		new  func() (poller, error)
	}{{"epoll", newEpoller}, {"poll", newPollPoller}} {
		t.Run(mk.name, func(t *testing.T) {
			p, err := mk.new()
			if err != nil {
				t.Fatal(err)
			}
			defer p.close()
			if !p.canHold() {
				t.Skip("does not hold")
			}
			ep, _ := p.(*epoller)
			for round := range 20 {
				p.wake()
				if _, err := p.wait(nil, hangLimit, true); err != nil {
					t.Fatal(err)
				}
				if ep != nil && ep.park.kicked.Load() {
					t.Fatalf("round %d: the wait did not take the kick that came before it", round)
				}
				// The wake-up comes while the wait blocks, most likely. It may
				// also come just before: then the wait takes its kick and ends
				// without the eventfd, which is a wake-up seen too. A wait can
				// also end early (a signal), so wait again until the wake-up
				// is seen: on epoll, the eventfd it wrote or the kick taken.
				done := make(chan struct{})
				go func() {
					time.Sleep(time.Millisecond)
					p.wake()
					close(done)
				}()
				deadline := time.Now().Add(hangLimit)
				for woken := false; !woken; {
					if _, err := p.wait(nil, hangLimit, true); err != nil {
						t.Fatal(err)
					}
					woken = ep == nil || ep.n > 0
					select {
					case <-done:
						woken = woken || !ep.park.kicked.Load()
					default:
					}
					if !woken && time.Now().After(deadline) {
						t.Fatalf("round %d: a wake-up during the wait was lost", round)
					}
				}
				<-done
				// Drain an eventfd write the kick made needless.
				if _, err := p.wait(nil, 0, false); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// TestTakeHoldLeavesAP: loops hold their P only while one stays free for
// the rest of the process, and with GOMAXPROCS 1 not while other
// goroutines exist (a test binary always has some).
func TestTakeHoldLeavesAP(t *testing.T) {
	if ok, _ := takeHold(1); ok {
		t.Fatal("a loop may hold with GOMAXPROCS 1 and other goroutines")
	}
	ok1, c1 := takeHold(3)
	ok2, c2 := takeHold(3)
	ok3, c3 := takeHold(3)
	if !ok1 || !ok2 || ok3 || !c1 || !c2 || c3 {
		t.Fatalf("with 3 Ps, three loops asking: %v %v %v (counted %v %v %v); want two to hold", ok1, ok2, ok3, c1, c2, c3)
	}
	holders.Add(-2)
	if ok, c := takeHold(3); !ok || !c {
		t.Fatal("a loop may not hold after the others stopped")
	}
	holders.Add(-1)
}

// TestHoldReadsGOMAXPROCSAgain: a loop that would hold reads GOMAXPROCS
// when it first would, and again once holdMax has passed since, so that
// a change of it is seen.
func TestHoldReadsGOMAXPROCSAgain(t *testing.T) {
	d, err := New(WithDriver("epoll"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Dispose()
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	l := d.l
	wait := func() {
		l.holdWaits, l.spin = true, 0
		l.sysWait(time.Microsecond)
	}
	wait()
	if l.maxProcs != 2 {
		t.Fatalf("GOMAXPROCS %d after the first wait that would hold, want 2", l.maxProcs)
	}
	runtime.GOMAXPROCS(3)
	l.maxProcsAt = l.woke + int64(time.Hour) // read an hour from now: not yet
	wait()
	if l.maxProcs != 2 {
		t.Fatalf("GOMAXPROCS %d before holdMax passed, want 2 as read before", l.maxProcs)
	}
	l.maxProcsAt = l.woke - int64(holdMax)
	wait()
	if l.maxProcs != 3 {
		t.Fatalf("GOMAXPROCS %d holdMax after GOMAXPROCS changed, want 3", l.maxProcs)
	}
}

// TestHoldYieldGap: a holding loop yields yieldEvery apart, but holdMax
// apart where its goroutine is locked to its thread or GOMAXPROCS is 1.
func TestHoldYieldGap(t *testing.T) {
	for _, c := range []struct {
		bound bool
		procs int
		want  time.Duration
	}{{false, 2, yieldEvery}, {false, 1, holdMax}, {true, 2, holdMax}, {true, 1, holdMax}} {
		l := &loop{}
		l.bound, l.maxProcs = c.bound, c.procs
		if got := time.Duration(l.yieldGap()); got != c.want {
			t.Errorf("bound %v, GOMAXPROCS %d: yields %v apart, want %v", c.bound, c.procs, got, c.want)
		}
	}
}

// TestHoldRound: a loop holds after a round (wake-up to wake-up) shorter
// than holdShort, and stops after a longer one.
func TestHoldRound(t *testing.T) {
	d, err := New(WithDriver("epoll"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Dispose()
	l := d.l
	l.sysWait(time.Microsecond)
	if l.woke == 0 || l.holdWaits {
		t.Fatalf("after the first wait: woke %d, holds %v; want the time, and no hold (no round measured yet)", l.woke, l.holdWaits)
	}
	// A loaded machine may take the thread away for longer than
	// holdShort within a round: one short round in a hundred will do.
	for i := 0; i < 100 && !l.holdWaits; i++ {
		l.sysWait(time.Microsecond)
	}
	if !l.holdWaits {
		t.Fatal("rounds of microseconds do not make the loop hold")
	}
	time.Sleep(2 * holdShort) // callbacks that take that long
	l.sysWait(time.Microsecond)
	if l.holdWaits {
		t.Fatalf("a round of %v leaves the loop holding", 2*holdShort)
	}
}

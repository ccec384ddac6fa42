package group

import (
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/eventcore-go/eventcore"
)

// TestBalance opens connections of mixed lifetimes to 8 loops, from many
// clients at once: about 30% stay open to the end, the rest close right
// after their echo. Once the short ones are gone, it reports how the long
// ones are spread (the busiest loop against the average) per strategy,
// and checks the bound that least-connections guarantees: at most 1.25×
// the average (it balances on live counts, so only the short connections
// still open at each hand-over can skew it). Round-robin and SO_REUSEPORT
// promise no such bound: their figures are reported, not checked.
func TestBalance(t *testing.T) {
	const loops, clients = 8, 32
	conns := 10000
	if testing.Short() {
		conns = 2000
	}
	// Both ends of every long connection are in this process.
	if limit := raiseFDLimit(t); 2*conns*4/10+4*clients+256 > limit {
		conns = (limit - 4*clients - 256) * 10 / 8
		t.Logf("descriptor limit %d: %d connections", limit, conns)
	}
	forEachDriver(t, func(t *testing.T, driver eventcore.Option) {
		for _, strategy := range strategies() {
			t.Run(strategy.String(), func(t *testing.T) {
				ratio, counts := balanceRun(t, driver, strategy, loops, conns, clients)
				t.Logf("%s, %d loops, %d connections (%d kept): busiest loop %.3f× the average %v",
					strategy, loops, conns, sum(counts), ratio, counts)
				if strategy == LeastConnections && ratio > 1.25 {
					t.Errorf("least-connections: busiest loop %.3f× the average", ratio)
				}
			})
		}
	})
}

func sum(xs []int) int {
	n := 0
	for _, x := range xs {
		n += x
	}
	return n
}

// balanceRun serves conns connections of mixed lifetimes and returns the
// busiest loop's share of the long ones against the average, and the
// per-loop counts.
func balanceRun(t *testing.T, driver eventcore.Option, strategy Strategy, loops, conns, clients int) (float64, []int) {
	g, err := New(WithLoops(loops), WithDriverOptions(driver))
	if err != nil {
		t.Fatal(err)
	}
	endWithTest(t, g)
	srv := newEchoServer(loops)
	addr, err := g.ServeStream(loopback, strategy, srv.serve)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var kept []net.Conn
	defer func() {
		for _, c := range kept {
			c.Close()
		}
	}()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for w := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rnd := rand.New(rand.NewPCG(uint64(w), 13))
			for id := next.Add(1); id <= int64(conns); id = next.Add(1) {
				c, err := dialEcho(addr.String(), uint64(id))
				if err != nil {
					errs <- fmt.Errorf("connection %d: %w", id, err)
					return
				}
				if rnd.IntN(10) < 3 {
					mu.Lock()
					kept = append(kept, c)
					mu.Unlock()
				} else {
					c.Close()
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	counts := make([]int, loops)
	waitFor(t, "the short connections to be released", func() bool {
		total := 0
		for i := range counts {
			counts[i] = g.Loop(i).Connections()
			total += counts[i]
		}
		return total == len(kept)
	})
	busiest := 0
	for _, c := range counts {
		busiest = max(busiest, c)
	}
	return float64(busiest) * float64(loops) / float64(len(kept)), counts
}

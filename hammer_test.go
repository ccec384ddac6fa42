package eventcore

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The goroutine-safe entry points (Events.Trigger, Core.RunInOwnerThread,
// Core.Exit) hammered from 16 goroutines while the loop runs: every queued
// function runs exactly once, every trigger finds its wait (each callback
// re-registers it), and the loop is never wedged. Run it under -race.
func TestGoroutineSafeEntryPointsHammered(t *testing.T) {
	const goroutines = 16
	per := 2000
	if testing.Short() || raceEnabled {
		per = 500
	}
	forEachDriver(t, func(t *testing.T, d *Driver) {
		evs, core := d.Events(), d.Core()
		ev := evs.Create()
		triggered := 0
		var onEvent EventCallback
		onEvent = func(EventID) { triggered++; evs.Wait(ev, onEvent) }
		evs.Wait(ev, onEvent)
		ran := make([]int32, goroutines*per)
		var sent, exits atomic.Int64
		var wg sync.WaitGroup
		for g := range goroutines {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range per {
					switch i % 3 {
					case 0:
						idx := g*per + i
						core.RunInOwnerThread(func() { ran[idx]++ })
					case 1:
						evs.Trigger(ev, i%2 == 0)
						sent.Add(1)
					case 2:
						core.Exit()
						exits.Add(1)
					}
				}
			}()
		}
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		exited := 0
		for running := true; running; {
			select {
			case <-done:
				running = false
			default:
			}
			if core.ProcessEvents(10*time.Millisecond) == ExitExited {
				exited++
			}
		}
		core.ProcessEvents(0) // what was queued last
		for g := range goroutines {
			for i := 0; i < per; i += 3 {
				if n := ran[g*per+i]; n != 1 {
					t.Fatalf("function %d of goroutine %d ran %d times", i, g, n)
				}
			}
		}
		if int64(triggered) != sent.Load() {
			t.Fatalf("%d triggers sent, %d waits woken", sent.Load(), triggered)
		}
		if exited == 0 {
			t.Fatal("no Exit was seen")
		}
		core.ClearExitFlag()
		evs.ReleaseRef(ev)
		t.Logf("%d functions, %d triggers, %d exits sent; ProcessEvents returned exited %d times", goroutines*per/3, sent.Load(), exits.Load(), exited)
	})
}

package eventcore

import (
	"math/rand/v2"
	"testing"
	"time"
)

// 1,000,000 timers armed, half of them stopped: every remaining one fires
// exactly once, no stopped one fires, and each stopped wait hears
// fired == false exactly once.
func TestTimerStorm(t *testing.T) {
	n := 1_000_000
	if testing.Short() || raceEnabled {
		n = 100_000
	}
	forEachDriver(t, func(t *testing.T, d *Driver) {
		tm := d.Timers()
		ids := make([]TimerID, n)
		fired := make([]uint8, n)   // fired == true, per timer
		stopped := make([]uint8, n) // fired == false
		slot := func(id TimerID) int { i, _ := id.h.index(); return int(i) }
		first := -1
		cb := func(id TimerID, f bool) {
			i := slot(id) - first
			if f {
				fired[i]++
			} else {
				stopped[i]++
			}
		}
		for i := range ids {
			ids[i] = tm.Create()
			if first < 0 {
				first = slot(ids[i])
			}
			if slot(ids[i]) != first+i {
				t.Fatal("timer slots are not consecutive")
			}
			tm.Set(ids[i], time.Duration(rand.IntN(200))*time.Millisecond, 0)
			tm.Wait(ids[i], cb)
			tm.ReleaseRef(ids[i]) // the wait holds it
		}
		for i := 0; i < n; i += 2 {
			tm.Stop(ids[i])
		}
		runUntil(t, d, "all timers", func() bool { return d.Core().WaiterCount() == 0 })
		for i := range ids {
			want := [2]uint8{1, 0} // fired, stopped
			if i%2 == 0 {
				want = [2]uint8{0, 1}
			}
			if got := [2]uint8{fired[i], stopped[i]}; got != want {
				t.Fatalf("timer %d: fired %d times, stopped-called %d times, want %v", i, got[0], got[1], want)
			}
		}
		if len(d.OpenHandles()) != 0 {
			t.Fatal("timers left open")
		}
	})
}

package eventcore

import (
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

// spinFor busy-waits for d, keeping the goroutine's thread awake.
func spinFor(d time.Duration) {
	for t := time.Now(); time.Since(t) < d; {
	}
}

// BenchmarkWakeLatency: one wake-up at a time, from the call to the
// callback (p50, p99 in ns), against a channel send to a goroutine blocked
// receiving. "busy": the next wake-up goes as soon as the last was
// acknowledged, as in the bench module's wake-up latency; "asleep": 30 µs
// later, when the receiver has gone to sleep.
func BenchmarkWakeLatency(b *testing.B) {
	for _, gap := range []struct {
		name string
		d    time.Duration
	}{{"busy", 0}, {"asleep", 30 * time.Microsecond}} {
		b.Run(gap.name+"/channel", func(b *testing.B) {
			epoch := time.Now()
			ping, ack := make(chan int64), make(chan struct{}, 1)
			var lat []int64
			go func() {
				for t := range ping {
					lat = append(lat, int64(time.Since(epoch))-t)
					ack <- struct{}{}
				}
			}()
			for range b.N {
				spinFor(gap.d)
				ping <- int64(time.Since(epoch))
				<-ack
			}
			close(ping)
			reportLatency(b, lat)
		})
		for _, name := range Drivers() {
			b.Run(gap.name+"/"+name+"/Trigger", func(b *testing.B) {
				d, err := New(WithDriver(name))
				if err != nil {
					b.Fatal(err)
				}
				evs := d.Events()
				ev := evs.Create()
				epoch := time.Now()
				var sent atomic.Int64
				var lat []int64
				ack := make(chan struct{}, 1)
				var cb EventCallback
				cb = func(EventID) {
					lat = append(lat, int64(time.Since(epoch))-sent.Load())
					evs.Wait(ev, cb)
					ack <- struct{}{}
				}
				evs.Wait(ev, cb)
				done := make(chan struct{})
				var stop atomic.Bool
				go func() {
					for !stop.Load() {
						d.Core().ProcessEvents(Infinite)
					}
					evs.ReleaseRef(ev)
					d.Dispose()
					close(done)
				}()
				for range b.N {
					spinFor(gap.d)
					sent.Store(int64(time.Since(epoch)))
					evs.Trigger(ev, false)
					<-ack
				}
				stop.Store(true)
				evs.Trigger(ev, false)
				<-done
				reportLatency(b, lat)
			})
		}
	}
}

func reportLatency(b *testing.B, lat []int64) {
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2]), "p50-ns")
	b.ReportMetric(float64(lat[len(lat)*99/100]), "p99-ns")
}

// BenchmarkWakeThroughput: one goroutine triggers as fast as it can, the
// loop runs the callbacks.
func BenchmarkWakeThroughput(b *testing.B) {
	b.Run("channel", func(b *testing.B) {
		ch := make(chan int64, 1024)
		go func() {
			for range b.N {
				ch <- 0
			}
		}()
		for range b.N {
			<-ch
		}
	})
	for _, name := range Drivers() {
		for _, run := range []bool{false, true} {
			mech := "/Trigger"
			if run {
				mech = "/RunInOwnerThread"
			}
			b.Run(name+mech, func(b *testing.B) {
				d, err := New(WithDriver(name))
				if err != nil {
					b.Fatal(err)
				}
				defer d.Dispose()
				evs := d.Events()
				ev, idle := evs.Create(), evs.Create()
				evs.Wait(idle, func(EventID) {})
				got := 0
				var cb EventCallback
				cb = func(EventID) {
					got++
					evs.Wait(ev, cb)
				}
				evs.Wait(ev, cb)
				arrived := func() { got++ }
				b.ResetTimer()
				go func() {
					for range b.N {
						if run {
							d.Core().RunInOwnerThread(arrived)
						} else {
							evs.Trigger(ev, false)
						}
					}
				}()
				for got < b.N {
					d.Core().ProcessEvents(Infinite)
				}
				b.StopTimer()
				evs.ReleaseRef(ev)
				evs.ReleaseRef(idle)
			})
		}
	}
}

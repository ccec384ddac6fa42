package eventcore

import (
	"os"
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

// Wake-up round trips: another goroutine wakes the sleeping loop, whose
// callback answers on a channel; against the same round trip between two
// goroutines over channels.
func BenchmarkWakeRoundTrip(b *testing.B) {
	b.Run("channel", func(b *testing.B) {
		ping, pong := make(chan struct{}), make(chan struct{})
		go func() {
			for range ping {
				pong <- struct{}{}
			}
		}()
		for range b.N {
			ping <- struct{}{}
			<-pong
		}
		close(ping)
	})
	for _, name := range Drivers() {
		b.Run(name+"/Trigger", func(b *testing.B) {
			d, err := New(WithDriver(name))
			if err != nil {
				b.Fatal(err)
			}
			defer d.Dispose()
			evs := d.Events()
			ev := evs.Create()
			defer evs.ReleaseRef(ev)
			pong := make(chan struct{})
			var cb EventCallback
			cb = func(EventID) {
				pong <- struct{}{}
				evs.Wait(ev, cb)
			}
			evs.Wait(ev, cb)
			done := make(chan struct{})
			go func() {
				for {
					select {
					case <-done:
						return
					default:
					}
					d.Core().ProcessEvents(Infinite)
				}
			}()
			for range b.N {
				evs.Trigger(ev, false)
				<-pong
			}
			close(done)
			evs.Trigger(ev, false)
			<-pong
		})
	}
}

func spinFor(d time.Duration) {
	for t := time.Now(); time.Since(t) < d; {
	}
}

// BenchmarkWakeLatency: one wake-up at a time into a loop that has gone to
// sleep, from the call to the callback; p50 in ns.
func BenchmarkWakeLatency(b *testing.B) {
	report := func(b *testing.B, lat []int64) {
		slices.Sort(lat)
		b.ReportMetric(float64(lat[len(lat)/2]), "p50-ns")
		b.ReportMetric(float64(lat[len(lat)*99/100]), "p99-ns")
	}
	b.Run("channel", func(b *testing.B) {
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
			spinFor(wakeGap)
			ping <- int64(time.Since(epoch))
			<-ack
		}
		close(ping)
		report(b, lat)
	})
	for _, name := range Drivers() {
		b.Run(name+"/Trigger", func(b *testing.B) {
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
				spinFor(wakeGap)
				sent.Store(int64(time.Since(epoch)))
				evs.Trigger(ev, false)
				<-ack
			}
			stop.Store(true)
			evs.Trigger(ev, false)
			<-done
			report(b, lat)
		})
	}
}

var wakeGap = func() time.Duration { d, _ := time.ParseDuration(os.Getenv("WAKEGAP")); return d }()

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

package main

import (
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/eventcore-go/eventcore"
)

// Cross-goroutine wake-ups: another goroutine wakes the loop with
// Events.Trigger or Core.RunInOwnerThread, against a channel send to a
// goroutine waiting on the channel. Throughput: one goroutine sends n
// wake-ups as fast as it can. Latency: one wake-up at a time, the receiver
// asleep, from the call to the callback (the next one goes once the
// receiver has acknowledged through a channel). These run with GOMAXPROCS=2,
// unpinned: a wake-up from another goroutine needs another thread.

func (r *runner) runWake() error {
	n := r.set.wakes
	tput := "wake-ups throughput"
	lat := "wake-ups latency"
	var impls []string
	for _, d := range r.drivers {
		impls = append(impls, "eventcore-"+d+" Trigger", "eventcore-"+d+" RunInOwnerThread")
	}
	impls = append(impls, "channel")
	for rep := range r.set.reps {
		line := ""
		for _, impl := range impls {
			env := []string{"GOMAXPROCS=2"}
			mech := impl
			if rest, ok := cutPrefix(impl, "eventcore-"); ok {
				var drv string
				fmt.Sscanf(rest, "%s %s", &drv, &mech)
				env = append(env, "EVENTCORE_DRIVER="+drv)
			}
			figs, err := r.runRoleProcess("wake", []string{mech, strconv.Itoa(n)}, env, -1)
			if err != nil {
				return err
			}
			for _, f := range figs {
				w := tput
				if f.Workload == "latency" {
					w = lat
				}
				r.res.add(w, impl, f.Metric, f.Unit, f.Value)
				if f.Metric == "wakes/s" {
					line += fmt.Sprintf("  %s %.2fM/s", impl, f.Value/1e6)
				}
			}
		}
		r.log.Printf("%-28s rep %d/%d%s", "wake-ups", rep+1, r.set.reps, line)
	}
	return nil
}

// wakeRole is "-role wake MECH N", MECH one of Trigger, RunInOwnerThread,
// channel.
func wakeRole(args []string) error {
	if len(args) != 2 {
		return fmt.Errorf("usage: -role wake MECH N")
	}
	n, err := strconv.Atoi(args[1])
	if err != nil {
		return err
	}
	samples := max(n/10, 1000)
	var rate float64
	var h histogram
	switch args[0] {
	case "channel":
		rate, h = chanWake(n, samples)
	case "Trigger", "RunInOwnerThread":
		if rate, h, err = loopWake(args[0] == "Trigger", n, samples); err != nil {
			return err
		}
	default:
		return fmt.Errorf("unknown wake-up mechanism %q", args[0])
	}
	return emit([]figure{
		{Workload: "throughput", Metric: "wakes/s", Value: rate, Unit: "wake-ups/s"},
		{Workload: "latency", Metric: "p50", Value: float64(h.percentile(0.5)) / 1e3, Unit: "µs"},
		{Workload: "latency", Metric: "p99", Value: float64(h.percentile(0.99)) / 1e3, Unit: "µs"},
	})
}

func loopWake(trigger bool, n, samples int) (float64, histogram, error) {
	var h histogram
	d, err := eventcore.New()
	if err != nil {
		return 0, h, err
	}
	defer d.Dispose()
	evs, core := d.Events(), d.Core()
	// A wait that never fires keeps the loop blocking in the kernel when
	// nothing is queued (RunInOwnerThread is no waiter of its own).
	idle := evs.Create()
	evs.Wait(idle, func(eventcore.EventID) {})
	defer evs.ReleaseRef(idle)
	ev := evs.Create()
	defer evs.ReleaseRef(ev)

	epoch := time.Now()
	var sentAt atomic.Int64
	ack := make(chan struct{}, 1)
	got, measuring := 0, false
	var onEvent eventcore.EventCallback
	arrived := func() {
		got++
		if measuring {
			h.record(int64(time.Since(epoch)) - sentAt.Load())
			ack <- struct{}{}
		}
	}
	onEvent = func(eventcore.EventID) {
		arrived()
		evs.Wait(ev, onEvent)
	}
	evs.Wait(ev, onEvent)
	wake := func() {
		if trigger {
			evs.Trigger(ev, false)
		} else {
			core.RunInOwnerThread(arrived)
		}
	}

	go func() {
		for range n {
			wake()
		}
	}()
	start := time.Now()
	for got < n {
		core.ProcessEvents(eventcore.Infinite)
	}
	rate := float64(n) / time.Since(start).Seconds()

	got, measuring = 0, true
	go func() {
		for range samples {
			sentAt.Store(int64(time.Since(epoch)))
			wake()
			<-ack
		}
	}()
	for got < samples {
		core.ProcessEvents(eventcore.Infinite)
	}
	return rate, h, nil
}

func chanWake(n, samples int) (float64, histogram) {
	var h histogram
	ch := make(chan int64, 1024)
	go func() {
		for range n {
			ch <- 0
		}
	}()
	start := time.Now()
	for range n {
		<-ch
	}
	rate := float64(n) / time.Since(start).Seconds()

	epoch := time.Now()
	ping, ack := make(chan int64), make(chan struct{}, 1)
	go func() {
		for range samples {
			ping <- int64(time.Since(epoch))
			<-ack
		}
	}()
	for range samples {
		t := <-ping
		h.record(int64(time.Since(epoch)) - t)
		ack <- struct{}{}
	}
	return rate, h
}

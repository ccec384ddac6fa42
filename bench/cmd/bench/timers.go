package main

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/eventcore-go/eventcore"
)

// Timers: arm and fire n one-shot timers with deadlines spread over 50 ms,
// and re-arm timers among 10,000 armed ones (what a server does with idle
// timeouts), eventcore against the runtime's timers (time.AfterFunc,
// Timer.Reset). Each runs in its own process pinned to the server CPU with
// GOMAXPROCS=1.

const (
	timerSpread = 50 * time.Millisecond
	armedTimers = 10000
	rearms      = 1000000
)

func (r *runner) runTimers() error {
	n := r.set.timers
	oneShot := fmt.Sprintf("timers %s one-shot", count(n))
	rearm := fmt.Sprintf("timers re-arm among %s", count(armedTimers))
	impls := []string{}
	for _, d := range r.drivers {
		impls = append(impls, "eventcore-"+d)
	}
	impls = append(impls, "go")
	for rep := range r.set.reps {
		line := ""
		for _, impl := range impls {
			env := append([]string{}, goEnv...)
			if d, ok := cutPrefix(impl, "eventcore-"); ok {
				env = append(env, "EVENTCORE_DRIVER="+d)
			}
			figs, err := r.runRoleProcess("timers", []string{impl, strconv.Itoa(n)}, env, serverCPU)
			if err != nil {
				return err
			}
			for _, f := range figs {
				name := oneShot
				if f.Workload == "rearm" {
					name = rearm
				}
				r.res.add(name, f.Impl, f.Metric, f.Unit, f.Value)
				line += fmt.Sprintf("  %s %s %.2fM/s", f.Impl, f.Workload, f.Value/1e6)
			}
		}
		r.log.Printf("%-28s rep %d/%d%s", "timers", rep+1, r.set.reps, line)
	}
	return nil
}

func count(n int) string {
	switch {
	case n >= 1000000 && n%1000000 == 0:
		return strconv.Itoa(n/1000000) + "M"
	case n >= 1000 && n%1000 == 0:
		return strconv.Itoa(n/1000) + "k"
	}
	return strconv.Itoa(n)
}

func cutPrefix(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && s[:len(prefix)] == prefix {
		return s[len(prefix):], true
	}
	return s, false
}

// timerRole is "-role timers IMPL N".
func timerRole(args []string) error {
	if len(args) != 2 {
		return fmt.Errorf("usage: -role timers IMPL N")
	}
	impl := args[0]
	n, err := strconv.Atoi(args[1])
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(3, 4))
	delays := make([]time.Duration, n)
	for i := range delays {
		delays[i] = time.Duration(rng.Int64N(int64(timerSpread)))
	}
	jitter := make([]time.Duration, 4096)
	for i := range jitter {
		jitter[i] = time.Hour + time.Duration(rng.Int64N(int64(time.Minute)))
	}
	var fire, re float64
	name := impl
	if impl == "go" {
		fire, re = goTimers(delays, jitter)
		name = "time.AfterFunc"
	} else {
		if fire, re, err = eventcoreTimers(delays, jitter); err != nil {
			return err
		}
	}
	return emit([]figure{
		{Workload: "oneshot", Impl: name, Metric: "timers/s", Value: fire, Unit: "timers/s"},
		{Workload: "rearm", Impl: name, Metric: "rearms/s", Value: re, Unit: "re-arms/s"},
	})
}

func eventcoreTimers(delays, jitter []time.Duration) (fire, rearm float64, err error) {
	d, err := eventcore.New()
	if err != nil {
		return 0, 0, err
	}
	defer d.Dispose()
	tm := d.Timers()
	n := len(delays)
	fired := 0
	cb := func(eventcore.TimerID, bool) { fired++ }
	runtime.GC()
	start := time.Now()
	for _, dl := range delays {
		id := tm.Create()
		tm.Set(id, dl, 0)
		tm.Wait(id, cb)
		tm.ReleaseRef(id) // the wait holds it until it fires
	}
	for fired < n {
		d.Core().ProcessEvents(eventcore.Infinite)
	}
	fire = float64(n) / time.Since(start).Seconds()

	ids := make([]eventcore.TimerID, armedTimers)
	for i := range ids {
		ids[i] = tm.Create()
		tm.Set(ids[i], jitter[i%len(jitter)], time.Hour) // periodic, as an idle timeout would be
	}
	start = time.Now()
	for i := range rearms {
		tm.Set(ids[(i*7919)%armedTimers], jitter[i%len(jitter)], time.Hour)
	}
	rearm = float64(rearms) / time.Since(start).Seconds()
	for _, id := range ids {
		tm.ReleaseRef(id)
	}
	return fire, rearm, nil
}

func goTimers(delays, jitter []time.Duration) (fire, rearm float64) {
	n := int64(len(delays))
	var fired atomic.Int64
	done := make(chan struct{})
	f := func() {
		if fired.Add(1) == n {
			close(done)
		}
	}
	runtime.GC()
	start := time.Now()
	for _, dl := range delays {
		time.AfterFunc(dl, f)
	}
	<-done
	fire = float64(n) / time.Since(start).Seconds()

	ts := make([]*time.Timer, armedTimers)
	for i := range ts {
		ts[i] = time.AfterFunc(jitter[i%len(jitter)], func() {})
	}
	start = time.Now()
	for i := range rearms {
		ts[(i*7919)%armedTimers].Reset(jitter[i%len(jitter)])
	}
	rearm = float64(rearms) / time.Since(start).Seconds()
	for _, t := range ts {
		t.Stop()
	}
	return fire, rearm
}

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// serverSpec is how to start one server under test.
type serverSpec struct {
	impl string
	argv []string
	env  []string
}

func (r *runner) bin(name string) string { return filepath.Join(r.bins, name) }

// goEnv pins a Go server to one thread of Go code, as the C floor has.
var goEnv = []string{"GOMAXPROCS=1"}

func (r *runner) echoServers() []serverSpec {
	var out []serverSpec
	for _, d := range r.drivers {
		out = append(out, serverSpec{"eventcore-" + d, []string{r.bin("ececho")}, append([]string{"EVENTCORE_DRIVER=" + d}, goEnv...)})
	}
	out = append(out, serverSpec{"c-epoll", []string{r.bin("cecho"), "127.0.0.1:0"}, nil})
	if _, err := os.Stat(r.bin("curing")); err == nil {
		out = append(out, serverSpec{"c-iouring", []string{r.bin("curing"), "127.0.0.1:0"}, nil})
	}
	return append(out,
		serverSpec{"net", []string{r.bin("netecho")}, goEnv},
		serverSpec{"netpoll", []string{r.bin("netpollecho")}, goEnv},
	)
}

type echoWorkload struct {
	name string
	echoConfig
}

func (r *runner) echoWorkloads(smoke bool) []echoWorkload {
	w := func(name string, conns, size, depth int) echoWorkload {
		return echoWorkload{name, echoConfig{conns: conns, size: size, depth: depth, warm: r.set.warm, dur: r.set.dur}}
	}
	refill := func(name string, conns, size, depth int) echoWorkload {
		wl := w(name, conns, size, depth)
		wl.refill = true
		return wl
	}
	if smoke {
		return []echoWorkload{w("echo 1c 64B", 1, 64, 1), w("echo pipelined 4c×16 64B", 4, 64, 16),
			refill("echo pipelined-refill 4c×16 64B", 4, 64, 16)}
	}
	return []echoWorkload{
		w("echo 1c 64B", 1, 64, 1),
		w("echo 64c 64B", 64, 64, 1),
		w("echo 1000c 64B", 1000, 64, 1),
		w("echo 1c 4KiB", 1, 4096, 1),
		w("echo 64c 4KiB", 64, 4096, 1),
		w("echo 1000c 4KiB", 1000, 4096, 1),
		w("echo pipelined 64c×16 64B", 64, 64, 16),
		refill("echo pipelined-refill 64c×16 64B", 64, 64, 16),
	}
}

// runEcho measures every echo workload on every echo server, the servers
// alternating within each repetition.
func (r *runner) runEcho(smoke bool) error {
	servers := r.echoServers()
	for _, w := range r.echoWorkloads(smoke) {
		for rep := range r.set.reps {
			for _, sv := range servers {
				if err := r.echoOnce(w, sv); err != nil {
					return fmt.Errorf("%s, %s: %w", w.name, sv.impl, err)
				}
			}
			r.log.Printf("%-28s rep %d/%d %s", w.name, rep+1, r.set.reps, r.lastEcho(w.name, servers))
		}
	}
	return nil
}

func (r *runner) echoOnce(w echoWorkload, sv serverSpec) error {
	p, err := startServer(sv.impl, sv.argv, sv.env, serverCPU)
	if err != nil {
		return err
	}
	defer p.stop()
	var cpu0, cpu1 time.Duration
	var cpuErr error
	res, err := runEcho(p.addr, w.echoConfig, clientCPU, func(start bool) {
		t, err := cpuTime(p.pid())
		if err != nil {
			cpuErr = err
		}
		if start {
			cpu0 = t
		} else {
			cpu1 = t
		}
	})
	if err == nil {
		err = cpuErr
	}
	if err != nil {
		if e := p.alive(); e != nil {
			return e
		}
		return err
	}
	if res.msgs == 0 {
		// A machine busy with other work can starve a run; it counts as
		// what it was, and the median over repetitions copes.
		r.log.Printf("warning: %s, %s: no message was echoed in the window", w.name, sv.impl)
		r.res.add(w.name, sv.impl, "msgs/s", "messages/s", 0)
		return nil
	}
	rate := float64(res.msgs) / res.secs
	r.res.add(w.name, sv.impl, "msgs/s", "messages/s", rate)
	r.res.add(w.name, sv.impl, "cpu/msg", "µs", float64(cpu1-cpu0)/1e3/float64(res.msgs))
	r.res.add(w.name, sv.impl, "p50", "µs", float64(res.lat.percentile(0.50))/1e3)
	r.res.add(w.name, sv.impl, "p99", "µs", float64(res.lat.percentile(0.99))/1e3)
	return nil
}

// lastEcho summarises the latest repetition for the progress log.
func (r *runner) lastEcho(workload string, servers []serverSpec) string {
	s := ""
	for _, sv := range servers {
		if ser := r.res.byKey[seriesKey{workload, sv.impl, "msgs/s"}]; ser != nil {
			s += fmt.Sprintf("  %s %.0fk/s", sv.impl, ser.vals[len(ser.vals)-1]/1e3)
		}
	}
	return s
}

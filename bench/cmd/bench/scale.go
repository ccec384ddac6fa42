package main

import (
	"fmt"
	"net/netip"
	"runtime"
	"strconv"
	"sync"
)

// The scaling rows: echo, 64 connections of 64 B per loop, served by N
// loops (eventcore's group, cmd ececho -loops N), N threads of the C floor
// (each with its own SO_REUSEPORT listener) and Go's net with GOMAXPROCS=N,
// for N = 1, 2, 4, 8 and all CPUs. The servers run on CPUs 0..N-1; the load
// clients, one thread each, on the CPUs after those, as many as the
// server has, or on the last CPU where there are no more (then the client
// competes with the server: the report says so).

// scaleCounts are the loop counts measured: 1, 2, 4, 8 below the number
// of CPUs, and that number.
func scaleCounts() []int {
	n := runtime.NumCPU()
	var out []int
	for _, k := range []int{1, 2, 4, 8} {
		if k < n {
			out = append(out, k)
		}
	}
	return append(out, n)
}

func (r *runner) scaleServers(n int) []serverSpec {
	procs := []string{"GOMAXPROCS=" + strconv.Itoa(n)}
	var out []serverSpec
	for _, d := range r.drivers {
		out = append(out, serverSpec{"eventcore-" + d, []string{r.bin("ececho"), "-loops", strconv.Itoa(n)},
			append([]string{"EVENTCORE_DRIVER=" + d}, procs...)})
	}
	return append(out,
		serverSpec{"c-epoll", []string{r.bin("cecho"), "127.0.0.1:0", strconv.Itoa(n)}, nil},
		serverSpec{"net", []string{r.bin("netecho")}, procs},
	)
}

// scaleCPUs returns the server's CPU list ("0-3") and the clients' CPUs
// for n loops, and whether the clients share a CPU with the server.
func scaleCPUs(n int) (string, []int, bool) {
	total := runtime.NumCPU()
	server := "0"
	if n > 1 {
		server = fmt.Sprintf("0-%d", n-1)
	}
	var clients []int
	for c := n; c < total && len(clients) < n; c++ {
		clients = append(clients, c)
	}
	if len(clients) == 0 {
		return server, []int{total - 1}, true
	}
	return server, clients, false
}

func scaleWorkload(n int) string {
	_, _, shared := scaleCPUs(n)
	name := fmt.Sprintf("echo scale %d loops, %dc 64B", n, 64*n)
	if shared {
		name += " (client shares a CPU)"
	}
	return name
}

// httpScaleServers are the HTTP servers of the scaling rows at n loops:
// examples/http with -loops n, net/http and fasthttp with GOMAXPROCS=n.
func (r *runner) httpScaleServers(n int) []serverSpec {
	procs := []string{"GOMAXPROCS=" + strconv.Itoa(n)}
	var out []serverSpec
	for _, d := range r.drivers {
		out = append(out, serverSpec{"eventcore-" + d, []string{r.bin("http"), "-addr", "127.0.0.1:0", "-loops", strconv.Itoa(n)},
			append([]string{"EVENTCORE_DRIVER=" + d}, procs...)})
	}
	return append(out,
		serverSpec{"net/http", []string{r.bin("nethttp")}, procs},
		serverSpec{"fasthttp", []string{r.bin("fasthttp")}, procs},
	)
}

// runHTTPScale measures HTTP keep-alive, 64 connections per loop, at each
// loop count, with one wrk thread per client CPU.
func (r *runner) runHTTPScale() error {
	if err := ensureWrk(r.log.Printf); err != nil {
		return err
	}
	for _, n := range scaleCounts() {
		cpus, clients, shared := scaleCPUs(n)
		name := fmt.Sprintf("http scale %d loops, %dc", n, 64*n)
		if shared {
			name += " (client shares a CPU)"
		}
		w := httpWorkload{name: name, conns: 64 * n, depth: 1, serverCPUs: cpus, clientCPUs: clients}
		if err := r.runHTTPWorks([]httpWorkload{w}, r.httpScaleServers(n), ""); err != nil {
			return err
		}
	}
	return nil
}

// runScale measures the scaling rows, the servers alternating within each
// repetition.
func (r *runner) runScale() error {
	for _, n := range scaleCounts() {
		name := scaleWorkload(n)
		cfg := echoConfig{conns: 64 * n, size: 64, depth: 1, warm: r.set.warm, dur: r.set.dur}
		cpus, clients, _ := scaleCPUs(n)
		servers := r.scaleServers(n)
		for rep := range r.set.reps {
			for _, sv := range servers {
				if err := r.scaleOnce(name, cfg, sv, cpus, clients); err != nil {
					return fmt.Errorf("%s, %s: %w", name, sv.impl, err)
				}
			}
			r.log.Printf("%-28s rep %d/%d %s", name, rep+1, r.set.reps, r.lastEcho(name, servers))
		}
	}
	return nil
}

func (r *runner) scaleOnce(name string, cfg echoConfig, sv serverSpec, cpus string, clients []int) error {
	p, err := startServerOn(sv.impl, sv.argv, sv.env, cpus)
	if err != nil {
		return err
	}
	defer p.stop()
	res, err := runEchoClients(p.addr, cfg, clients)
	if err != nil {
		if e := p.alive(); e != nil {
			return e
		}
		return err
	}
	rate := 0.0
	if res.secs > 0 {
		rate = float64(res.msgs) / res.secs
	}
	r.res.add(name, sv.impl, "msgs/s", "messages/s", rate)
	r.res.add(name, sv.impl, "p99", "µs", float64(res.lat.percentile(0.99))/1e3)
	return nil
}

// runEchoClients runs one load client per CPU in cpus, sharing cfg.conns
// connections, and sums what they measured.
func runEchoClients(addr netip.AddrPort, cfg echoConfig, cpus []int) (*echoResult, error) {
	results := make([]*echoResult, len(cpus))
	errs := make([]error, len(cpus))
	var wg sync.WaitGroup
	for i, cpu := range cpus {
		c := cfg
		c.conns = cfg.conns / len(cpus)
		if i < cfg.conns%len(cpus) {
			c.conns++
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = runEcho(addr, c, cpu, func(bool) {})
		}()
	}
	wg.Wait()
	sum := &echoResult{}
	for i, res := range results {
		if errs[i] != nil {
			return nil, errs[i]
		}
		sum.msgs += res.msgs
		sum.secs = max(sum.secs, res.secs)
		for b, k := range res.lat.counts {
			sum.lat.counts[b] += k
		}
		sum.lat.n += res.lat.n
	}
	if sum.secs == 0 {
		sum.secs = cfg.dur.Seconds()
	}
	return sum, nil
}

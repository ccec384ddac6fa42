package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// HTTP/1.1 plaintext under wrk, one wrk thread pinned to the client CPU.

func haveWrk() bool {
	_, err := exec.LookPath("wrk")
	return err == nil
}

// ensureWrk installs Debian's wrk package when wrk is missing.
func ensureWrk(log func(string, ...any)) error {
	if haveWrk() {
		return nil
	}
	log("wrk is missing: installing the Debian package")
	for _, args := range [][]string{{"apt-get", "install", "-y", "wrk"}, {"apt-get", "update"}, {"apt-get", "install", "-y", "wrk"}} {
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if cmd.Run() == nil && haveWrk() {
			return nil
		}
	}
	return fmt.Errorf("wrk is not installed and apt-get could not install it")
}

// pipelineScript makes wrk send depth requests per round trip.
const pipelineScript = `-- wrk sends the whole batch at once, then reads depth responses.
local depth = tonumber(os.getenv("PIPELINE_DEPTH") or "16")
init = function(args)
  local batch = {}
  for i = 1, depth do batch[i] = wrk.format(nil, "/plaintext") end
  req = table.concat(batch)
end
request = function() return req end
`

func (r *runner) httpServers() []serverSpec {
	var out []serverSpec
	for _, d := range r.drivers {
		out = append(out, serverSpec{"eventcore-" + d, []string{r.bin("http"), "-addr", "127.0.0.1:0"}, append([]string{"EVENTCORE_DRIVER=" + d}, goEnv...)})
	}
	return append(out,
		serverSpec{"net/http", []string{r.bin("nethttp")}, goEnv},
		serverSpec{"fasthttp", []string{r.bin("fasthttp")}, goEnv},
	)
}

type httpWorkload struct {
	name         string
	conns, depth int
	https        bool
	// The scaling rows: the server's CPU list ("0-3") and the CPUs of
	// wrk's threads, one each; otherwise serverCPU and clientCPU.
	serverCPUs string
	clientCPUs []int
}

func (r *runner) runHTTP(smoke bool) error {
	if err := ensureWrk(r.log.Printf); err != nil {
		return err
	}
	script := filepath.Join(r.bins, "pipeline.lua")
	if err := os.WriteFile(script, []byte(pipelineScript), 0o644); err != nil {
		return err
	}
	works := []httpWorkload{{name: "http keep-alive 64c", conns: 64, depth: 1}, {name: "http pipelined 64c×16", conns: 64, depth: 16}}
	if smoke {
		works = works[1:]
	}
	return r.runHTTPWorks(works, r.httpServers(), script)
}

func (r *runner) runHTTPWorks(works []httpWorkload, servers []serverSpec, script string) error {
	for _, w := range works {
		for rep := range r.set.reps {
			line := ""
			for _, sv := range servers {
				rate, err := r.httpOnce(w, sv, script)
				if err != nil {
					return fmt.Errorf("%s, %s: %w", w.name, sv.impl, err)
				}
				line += fmt.Sprintf("  %s %.0fk/s", sv.impl, rate/1e3)
			}
			r.log.Printf("%-28s rep %d/%d%s", w.name, rep+1, r.set.reps, line)
		}
	}
	return nil
}

func (r *runner) httpOnce(w httpWorkload, sv serverSpec, script string) (float64, error) {
	cpus := w.serverCPUs
	if cpus == "" {
		cpus = strconv.Itoa(serverCPU)
	}
	p, err := startServerOn(sv.impl, sv.argv, sv.env, cpus)
	if err != nil {
		return 0, err
	}
	defer p.stop()
	url := "http://" + p.addr.String() + "/plaintext"
	if w.https {
		url = "https://" + p.addr.String() + "/plaintext"
	}
	if _, err := r.wrk(w, url, script, r.set.warm); err != nil {
		return 0, err
	}
	cpu0, err := cpuTime(p.pid())
	if err != nil {
		return 0, err
	}
	out, err := r.wrk(w, url, script, r.set.dur)
	if err != nil {
		if e := p.alive(); e != nil {
			return 0, e
		}
		return 0, err
	}
	cpu1, err := cpuTime(p.pid())
	if err != nil {
		return 0, err
	}
	st, err := parseWrk(out)
	if err != nil {
		return 0, err
	}
	if st.requests == 0 { // see echoOnce
		r.log.Printf("warning: %s, %s: no request was answered in the window", w.name, sv.impl)
		r.res.add(w.name, sv.impl, "req/s", "requests/s", 0)
		return 0, nil
	}
	r.res.add(w.name, sv.impl, "req/s", "requests/s", st.rate)
	r.res.add(w.name, sv.impl, "cpu/req", "µs", float64(cpu1-cpu0)/1e3/float64(st.requests))
	r.res.add(w.name, sv.impl, "p50", "µs", st.p50)
	r.res.add(w.name, sv.impl, "p99", "µs", st.p99)
	return st.rate, nil
}

// wrk runs wrk for d (whole seconds, at least one) and returns its output.
func (r *runner) wrk(w httpWorkload, url, script string, d time.Duration) (string, error) {
	secs := max(int((d+time.Second/2)/time.Second), 1)
	clients := w.clientCPUs
	if len(clients) == 0 {
		clients = []int{clientCPU}
	}
	cpus := make([]string, len(clients))
	for i, c := range clients {
		cpus[i] = strconv.Itoa(c)
	}
	args := []string{"wrk", "-t" + strconv.Itoa(len(clients)), "-c" + strconv.Itoa(w.conns), "-d" + strconv.Itoa(secs) + "s", "--latency"}
	if w.depth > 1 {
		args = append(args, "-s", script)
	}
	args = append(args, url)
	cmd := execCommand(pinnedOn(strings.Join(cpus, ","), args), []string{"PIPELINE_DEPTH=" + strconv.Itoa(w.depth)})
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("wrk: %v\n%s", err, out)
	}
	if strings.Contains(string(out), "Non-2xx") || strings.Contains(string(out), "Socket errors") {
		return "", fmt.Errorf("wrk saw errors:\n%s", out)
	}
	return string(out), nil
}

type wrkStats struct {
	rate     float64
	requests int64
	p50, p99 float64 // µs
}

var (
	wrkRate     = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	wrkRequests = regexp.MustCompile(`(\d+) requests in`)
	wrkPct      = regexp.MustCompile(`(?m)^\s+(50|99)\.000%\s+([0-9.]+)(us|ms|s)\b|^\s+(50|99)%\s+([0-9.]+)(us|ms|s)\b`)
)

func parseWrk(out string) (wrkStats, error) {
	var st wrkStats
	m := wrkRate.FindStringSubmatch(out)
	n := wrkRequests.FindStringSubmatch(out)
	if m == nil || n == nil {
		return st, fmt.Errorf("unexpected wrk output:\n%s", out)
	}
	st.rate, _ = strconv.ParseFloat(m[1], 64)
	st.requests, _ = strconv.ParseInt(n[1], 10, 64)
	for _, p := range wrkPct.FindAllStringSubmatch(out, -1) {
		which, num, unit := p[1], p[2], p[3]
		if which == "" {
			which, num, unit = p[4], p[5], p[6]
		}
		v, _ := strconv.ParseFloat(num, 64)
		switch unit {
		case "ms":
			v *= 1e3
		case "s":
			v *= 1e6
		}
		if which == "50" {
			st.p50 = v
		} else {
			st.p99 = v
		}
	}
	return st, nil
}

package main

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"time"
)

// The bench binary runs its helper processes by re-executing itself with
// "-role NAME": the idle-connection client, and the timer and wake-up
// measurements, which run pinned like the servers.

func runRole(role string, args []string) int {
	var err error
	switch role {
	case "idle":
		err = idleClient(args)
	case "timers":
		err = timerRole(args)
	case "wake":
		err = wakeRole(args)
	case "load":
		err = loadRole(args)
	case "idletls":
		err = idleTLSClient(args)
	case "handshakes":
		err = handshakeRole(args)
	default:
		err = fmt.Errorf("unknown role %q", role)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench -role", role+":", err)
		return 1
	}
	return 0
}

// loadRole is "-role load ADDR CONNS SIZE DEPTH SECONDS [refill]": the echo
// load client alone, against a server started by hand (for profiling it).
func loadRole(args []string) error {
	refill := len(args) == 6 && args[5] == "refill"
	if len(args) != 5 && !refill {
		return fmt.Errorf("usage: -role load ADDR CONNS SIZE DEPTH SECONDS [refill]")
	}
	addr, err := netip.ParseAddrPort(args[0])
	if err != nil {
		return err
	}
	var n [4]int
	for i := range n {
		if n[i], err = strconv.Atoi(args[i+1]); err != nil {
			return err
		}
	}
	cfg := echoConfig{conns: n[0], size: n[1], depth: n[2], refill: refill, warm: 200 * time.Millisecond, dur: time.Duration(n[3]) * time.Second}
	res, err := runEcho(addr, cfg, clientCPU, func(bool) {})
	if err != nil {
		return err
	}
	fmt.Printf("%.0f msgs/s, p50 %d ns, p99 %d ns\n", float64(res.msgs)/res.secs, res.lat.percentile(0.5), res.lat.percentile(0.99))
	return nil
}

// emit writes a role's figures for the parent to read.
func emit(figs []figure) error { return json.NewEncoder(os.Stdout).Encode(figs) }

// runRoleProcess runs "-role role args..." pinned to cpu (if cpu >= 0) with
// env, and returns the figures it printed.
func (r *runner) runRoleProcess(role string, args []string, env []string, cpu int) ([]figure, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := execCommand(pinned(cpu, append([]string{self, "-role", role}, args...)), env)
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%s: %v: %s", role, err, stderrOf(err))
	}
	var figs []figure
	if err := json.Unmarshal(out, &figs); err != nil {
		return nil, fmt.Errorf("%s: %v in %q", role, err, out)
	}
	return figs, nil
}

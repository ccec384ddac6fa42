package main

import (
	"encoding/json"
	"fmt"
	"os"
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
	default:
		err = fmt.Errorf("unknown role %q", role)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench -role", role+":", err)
		return 1
	}
	return 0
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
	argv := append([]string{self, "-role", role}, args...)
	if cpu >= 0 && haveTaskset {
		argv = append([]string{"taskset", "-c", fmt.Sprint(cpu)}, argv...)
	}
	cmd := execCommand(argv, env)
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

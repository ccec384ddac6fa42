package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// A server under test: its own process, pinned to one CPU.
type process struct {
	name   string
	cmd    *exec.Cmd
	addr   netip.AddrPort
	stderr *lockedBuffer
	done   chan struct{}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() < 1<<16 {
		l.b.Write(p)
	}
	return len(p), nil
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startServer runs argv pinned to cpu with the extra environment, waits for
// the line that says where it listens, and returns it running.
func startServer(name string, argv []string, env []string, cpu int) (*process, error) {
	cpus := ""
	if cpu >= 0 {
		cpus = strconv.Itoa(cpu)
	}
	return startServerOn(name, argv, env, cpus)
}

// startServerOn is startServer on a list of CPUs ("0-3"; "" for any).
func startServerOn(name string, argv []string, env []string, cpus string) (*process, error) {
	cmd := execCommand(pinnedOn(cpus, argv), env)
	p := &process{name: name, cmd: cmd, stderr: &lockedBuffer{}, done: make(chan struct{})}
	cmd.Stderr = p.stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() { cmd.Wait(); close(p.done) }()
	lines := make(chan string, 1)
	go func() {
		r := bufio.NewReader(out)
		line, _ := r.ReadString('\n')
		lines <- line
		io.Copy(io.Discard, r)
	}()
	select {
	case line := <-lines:
		_, rest, ok := strings.Cut(line, "listening on ")
		if ok {
			rest, _, _ = strings.Cut(strings.TrimSpace(rest), " ")
			if p.addr, err = netip.ParseAddrPort(rest); err == nil {
				return p, nil
			}
		}
		p.stop()
		return nil, fmt.Errorf("%s: unexpected first line %q; stderr: %s", name, line, p.stderr.String())
	case <-time.After(10 * time.Second):
		p.stop()
		return nil, fmt.Errorf("%s did not start; stderr: %s", name, p.stderr.String())
	}
}

func (p *process) pid() int { return p.cmd.Process.Pid }

// alive reports an error if the server has exited.
func (p *process) alive() error {
	select {
	case <-p.done:
		return fmt.Errorf("%s exited: %s", p.name, p.stderr.String())
	default:
		return nil
	}
}

func (p *process) stop() {
	p.cmd.Process.Kill()
	<-p.done
}

// cpuTime is the user plus system CPU time the process has used, from
// /proc/PID/stat.
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("unexpected /proc/PID/stat")
	}
	f := strings.Fields(string(b[i+1:]))
	// After the command name: state is field 3, utime 14, stime 15.
	if len(f) < 13 {
		return 0, errors.New("unexpected /proc/PID/stat")
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("unexpected /proc/PID/stat")
	}
	return time.Duration(ut+st) * time.Second / clockTicks, nil
}

// clockTicks is sysconf(_SC_CLK_TCK), 100 on every Linux architecture Go
// supports.
const clockTicks = 100

// rss is the resident set size of the process in bytes, from
// /proc/PID/statm.
func rss(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/statm", pid))
	if err != nil {
		return 0, err
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0, errors.New("unexpected /proc/PID/statm")
	}
	pages, err := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize()), err
}

// pinned prefixes argv with taskset to run it on cpu (if cpu >= 0 and
// taskset is there).
func pinned(cpu int, argv []string) []string {
	if cpu < 0 {
		return argv
	}
	return pinnedOn(strconv.Itoa(cpu), argv)
}

// pinnedOn prefixes argv with taskset to run it on the CPU list cpus
// (unless it is "" or taskset is missing).
func pinnedOn(cpus string, argv []string) []string {
	if cpus == "" || !haveTaskset {
		return argv
	}
	return append([]string{"taskset", "-c", cpus}, argv...)
}

var haveTaskset = func() bool {
	_, err := exec.LookPath("taskset")
	return err == nil
}()

func execCommand(argv, env []string) *exec.Cmd {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	return cmd
}

func stderrOf(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(ee.Stderr)
	}
	return ""
}

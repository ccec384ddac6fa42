package main

import (
	"bufio"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Idle connections: a separate client process opens n connections to an
// echo server, exchanges one byte on each (so that every server has done
// its first read and waits for the next), and holds them. The server's RSS
// increase divided by n is what an idle connection costs.

func (r *runner) runIdle() error {
	return r.runIdleRows("idle", "idle", r.echoServers())
}

// runIdleRows measures the idle row "PREFIX N conns" for servers, with the
// client role given ("idle", "idletls").
func (r *runner) runIdleRows(prefix, role string, servers []serverSpec) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	n := r.set.idleConns
	name := fmt.Sprintf("%s %d conns", prefix, n)
	reps := max(r.set.reps/2, 1)
	for rep := range reps {
		line := ""
		for _, sv := range servers {
			per, err := r.idleOnce(self, sv, role, n)
			if err != nil {
				return fmt.Errorf("%s, %s: %w", name, sv.impl, err)
			}
			r.res.add(name, sv.impl, "rss/conn", "bytes", per)
			line += fmt.Sprintf("  %s %.0f B", sv.impl, per)
		}
		r.log.Printf("%-28s rep %d/%d%s", name, rep+1, reps, line)
	}
	return nil
}

// idleOnce measures sv with the client role given ("idle", "idletls").
func (r *runner) idleOnce(self string, sv serverSpec, role string, n int) (float64, error) {
	p, err := startServer(sv.impl, sv.argv, sv.env, serverCPU)
	if err != nil {
		return 0, err
	}
	defer p.stop()
	time.Sleep(200 * time.Millisecond) // let a Go server finish starting
	before, err := rss(p.pid())
	if err != nil {
		return 0, err
	}
	cmd := execCommand(pinned(clientCPU, []string{self, "-role", role, p.addr.String(), strconv.Itoa(n)}), nil)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return 0, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return 0, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	defer func() { stdin.Close(); cmd.Wait() }()
	line, _ := bufio.NewReader(out).ReadString('\n')
	if strings.TrimSpace(line) != "ready" {
		return 0, fmt.Errorf("idle client: %q", line)
	}
	time.Sleep(time.Second) // let the server settle
	after, err := rss(p.pid())
	if err != nil {
		return 0, err
	}
	return float64(after-before) / float64(n), nil
}

// idleClient is the "-role idle ADDR N" process: it holds N connections
// until its standard input closes, or for two minutes at most.
func idleClient(args []string) error {
	if len(args) != 2 {
		return fmt.Errorf("usage: -role idle ADDR N")
	}
	addr, err := netip.ParseAddrPort(args[0])
	if err != nil {
		return err
	}
	n, err := strconv.Atoi(args[1])
	if err != nil {
		return err
	}
	fds := make([]int, 0, n)
	defer func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}()
	one := []byte{'x'}
	for i := range n {
		fd, err := dialTCP(addr)
		if err != nil {
			return fmt.Errorf("connection %d: %w", i, err)
		}
		fds = append(fds, fd)
		if err := unix.SetNonblock(fd, false); err != nil {
			return err
		}
		if _, err := unix.Write(fd, one); err != nil {
			return err
		}
		var b [1]byte
		if k, err := unix.Read(fd, b[:]); k != 1 || b[0] != 'x' {
			return fmt.Errorf("connection %d: no echo (%v)", i, err)
		}
	}
	holdUntilTold()
	return nil
}

// holdUntilTold says "ready" and keeps the connections a client role has
// opened until the bench tells it to go (a line on stdin), or for two
// minutes at most.
func holdUntilTold() {
	fmt.Println("ready")
	done := make(chan struct{})
	go func() { bufio.NewReader(os.Stdin).ReadString('\n'); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
	}
}

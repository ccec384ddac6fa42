package eventcore

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// As helperEnv=zombie-parent this test binary is the parent of a zombie:
// it starts sh -c "exit 7", writes its pid and never reaps it (Go waits
// for a child only when asked), until its standard input closes.
func init() {
	if os.Getenv(helperEnv) != "zombie-parent" {
		return
	}
	pid, err := syscall.ForkExec("/bin/sh", []string{"sh", "-c", "exit 7"}, &syscall.ProcAttr{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(pid)
	io.Copy(io.Discard, os.Stdin)
	os.Exit(0)
}

// foreignChild returns the pid of a process whose parent is another
// process, which never reaps it: once it has exited (at once, code 7) it
// stays a zombie until the test ends. No shell can be that parent: it
// may reap a child that exits before the shell has replaced itself with
// a program that does not.
func foreignChild(t *testing.T) int {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), helperEnv+"=zombie-parent")
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		in.Close()
		cmd.Wait()
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	pid, perr := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || perr != nil {
		t.Fatalf("no pid from the zombie's parent: %q, %v", line, err)
	}
	return pid
}

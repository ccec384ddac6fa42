//go:build unix

package eventcore

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The stand-ins the process tests run on besides the drivers, set where
// there are any.
var processStandIns []standIn

// waitExitCode waits for process id's exit and returns its code.
func waitExitCode(t *testing.T, d *Driver, id ProcessID) int {
	t.Helper()
	code, exited := 0, false
	d.Processes().Wait(id, func(_ ProcessID, c int) { code, exited = c, true })
	runUntil(t, d, "the process's exit", func() bool { return exited })
	return code
}

// forkSh starts sh -c script as a child of this process that no driver
// knows, and returns its pid.
func forkSh(t *testing.T, script string) int {
	t.Helper()
	pid, err := syscall.ForkExec("/bin/sh", []string{"sh", "-c", script}, &syscall.ProcAttr{})
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

func mustAdopt(t *testing.T, d *Driver, pid int) ProcessID {
	t.Helper()
	id, err := d.Processes().Adopt(pid)
	if err != nil {
		t.Fatalf("Adopt(%d): %v", pid, err)
	}
	return id
}

func TestProcessCatThroughPipes(t *testing.T) {
	checkNoFDLeak(t)
	forEachDriverAnd(t, processStandIns, func(t *testing.T, d *Driver) {
		pr := d.Processes()
		proc, err := pr.Spawn([]string{"cat"}, RedirectPipe, RedirectPipe, RedirectInherit, nil, 0, "")
		if err != nil {
			t.Fatal(err)
		}
		if proc.Stdin == (Pipe{}) || proc.Stdout == (Pipe{}) || proc.Stderr != (Pipe{}) {
			t.Fatalf("pipes: %+v", proc)
		}
		if pr.PID(proc.ID) <= 0 || pr.HasExited(proc.ID) {
			t.Fatal("PID or HasExited wrong for a running child")
		}
		msg := strings.Repeat("through cat and back. ", 10000) // larger than a pipe's buffer
		var out strings.Builder
		outDone := false
		readAll(t, d, proc.Stdout, &out, &outDone)
		d.Pipes().Write(proc.Stdin, []byte(msg), IOModeAll, func(p Pipe, st IOStatus, n int) {
			if st != IOStatusOK || n != len(msg) {
				t.Errorf("write to cat: %v %d", st, n)
			}
			d.Pipes().ReleaseRef(p) // cat sees the end of its input
		})
		code := -100
		pr.Wait(proc.ID, func(_ ProcessID, c int) { code = c })
		runUntil(t, d, "cat", func() bool { return outDone && code != -100 })
		if out.String() != msg || code != 0 {
			t.Fatalf("cat echoed %d bytes (want %d), exit code %d", out.Len(), len(msg), code)
		}
		// Waiting on an exited process answers at once.
		called := false
		if w := pr.Wait(proc.ID, func(_ ProcessID, c int) { called = c == 0 }); w != (ProcessWaitID{}) || !called {
			t.Fatal("Wait on an exited process did not answer at once")
		}
		if err := pr.Kill(proc.ID, syscall.SIGTERM); !errors.Is(err, os.ErrProcessDone) {
			t.Errorf("Kill after exit: %v", err)
		}
		pr.ReleaseRef(proc.ID)
	})
}

func TestProcessExitCodes(t *testing.T) {
	checkNoFDLeak(t)
	forEachDriverAnd(t, processStandIns, func(t *testing.T, d *Driver) {
		for args, want := range map[string]int{"true": 0, "false": 1, "exit 42": 42} {
			_, _, code := spawnAndCollect(t, d, []string{"sh", "-c", args}, RedirectNone, RedirectNone, nil, 0, "")
			if code != want {
				t.Errorf("%q: exit code %d, want %d", args, code, want)
			}
		}
	})
}

func TestProcessRedirects(t *testing.T) {
	checkNoFDLeak(t)
	forEachDriverAnd(t, processStandIns, func(t *testing.T, d *Driver) {
		script := []string{"sh", "-c", "echo out; echo err >&2"}
		out, errS, _ := spawnAndCollect(t, d, script, RedirectToStderr, RedirectPipe, nil, 0, "")
		if out != "" || errS != "out\nerr\n" {
			t.Errorf("stdout→stderr: stdout %q, stderr %q", out, errS)
		}
		out, errS, _ = spawnAndCollect(t, d, script, RedirectPipe, RedirectToStdout, nil, 0, "")
		if out != "out\nerr\n" || errS != "" {
			t.Errorf("stderr→stdout: stdout %q, stderr %q", out, errS)
		}
		out, errS, _ = spawnAndCollect(t, d, script, RedirectNone, RedirectPipe, nil, 0, "")
		if out != "" || errS != "err\n" {
			t.Errorf("stdout to null: stdout %q, stderr %q", out, errS)
		}
		// A given descriptor.
		f, err := os.Create(filepath.Join(tempDir(t), "out"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		spawnAndCollect(t, d, script, RedirectFD(f.Fd()), RedirectToStdout, nil, 0, "")
		if got, _ := os.ReadFile(f.Name()); string(got) != "out\nerr\n" {
			t.Errorf("redirected to a file: %q", got)
		}
		if _, err := d.Processes().Spawn(script, RedirectNone, RedirectToStderr, RedirectToStdout, nil, 0, ""); err == nil {
			t.Error("stdout and stderr redirected to each other: no error")
		}
	})
}

func TestProcessEnvironmentAndDir(t *testing.T) {
	checkNoFDLeak(t)
	t.Setenv("EVENTCORE_PARENT_VAR", "inherited")
	dir, _ := filepath.EvalSymlinks(tempDir(t))
	forEachDriverAnd(t, processStandIns, func(t *testing.T, d *Driver) {
		script := []string{"/bin/sh", "-c", `echo "$EVENTCORE_PARENT_VAR|$FOO|$(pwd)"`}
		out, _, _ := spawnAndCollect(t, d, script, RedirectPipe, RedirectInherit, map[string]string{"FOO": "bar"}, 0, dir)
		if want := "inherited|bar|" + dir + "\n"; out != want {
			t.Errorf("extended environment: %q, want %q", out, want)
		}
		out, _, _ = spawnAndCollect(t, d, script, RedirectPipe, RedirectInherit,
			map[string]string{"FOO": "only", "EVENTCORE_PARENT_VAR": "replaced"}, ProcessNewEnvironment, dir)
		if want := "replaced|only|" + dir + "\n"; out != want {
			t.Errorf("new environment: %q, want %q", out, want)
		}
		out, _, _ = spawnAndCollect(t, d, []string{"/bin/sh", "-c", `echo "[$EVENTCORE_PARENT_VAR]"`}, RedirectPipe, RedirectInherit,
			nil, ProcessNewEnvironment, "")
		if out != "[]\n" {
			t.Errorf("empty new environment: %q", out)
		}
	})
}

func TestProcessKillAndCancelWait(t *testing.T) {
	checkNoFDLeak(t)
	forEachDriverAnd(t, processStandIns, func(t *testing.T, d *Driver) {
		pr := d.Processes()
		proc, err := pr.Spawn([]string{"sleep", "60"}, RedirectNone, RedirectNone, RedirectNone, nil, ProcessDetached, "")
		if err != nil {
			t.Fatal(err)
		}
		w1 := pr.Wait(proc.ID, func(ProcessID, int) { t.Error("cancelled wait called") })
		code := 0
		pr.Wait(proc.ID, func(_ ProcessID, c int) { code = c })
		if d.Core().WaiterCount() != 2 || !pr.CancelWait(proc.ID, w1) || pr.CancelWait(proc.ID, w1) {
			t.Fatal("CancelWait")
		}
		runFor(d, 20*time.Millisecond)
		if code != 0 || pr.HasExited(proc.ID) {
			t.Fatal("sleep 60 exited early")
		}
		if err := pr.Kill(proc.ID, syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		runUntil(t, d, "killed process", func() bool { return code != 0 })
		if code != -int(syscall.SIGTERM) {
			t.Fatalf("exit code of a process killed by SIGTERM: %d", code)
		}
		pr.ReleaseRef(proc.ID)
	})
}

func TestProcessSIGCHLDFallback(t *testing.T) {
	checkNoFDLeak(t)
	forEachDriverAnd(t, processStandIns, func(t *testing.T, d *Driver) {
		d.l.noPidfd, d.l.noPollerExits = true, true
		_, _, code := spawnAndCollect(t, d, []string{"sh", "-c", "exit 7"}, RedirectNone, RedirectNone, nil, 0, "")
		if code != 7 {
			t.Fatalf("exit code through SIGCHLD: %d", code)
		}
		if d.l.sigchldUsers != 0 || len(d.l.signalRefs) != 0 {
			t.Fatal("SIGCHLD still watched with no process left")
		}
	})
}

func TestProcessReleasedWhileRunningIsReaped(t *testing.T) {
	checkNoFDLeak(t)
	forEachDriverAnd(t, processStandIns, func(t *testing.T, d *Driver) {
		pr := d.Processes()
		proc, err := pr.Spawn([]string{"sleep", "0.05"}, RedirectNone, RedirectNone, RedirectNone, nil, 0, "")
		if err != nil {
			t.Fatal(err)
		}
		pid := pr.PID(proc.ID)
		pr.ReleaseRef(proc.ID)
		if pr.PID(proc.ID) != 0 || len(d.OpenHandles()) != 0 {
			t.Fatal("released process handle still valid")
		}
		waitOrphansReaped(t, d, pid)
	})
}

// waitOrphansReaped runs the loop until every released process is reaped,
// and checks that child pid is.
func waitOrphansReaped(t *testing.T, d *Driver, pid int) {
	t.Helper()
	// Orphans are reaped while the loop runs: keep it running.
	tm := d.Timers().Create()
	d.Timers().Set(tm, time.Hour, 0)
	runUntil(t, d, "the orphans to be reaped", func() bool { return len(d.l.orphans) == 0 })
	d.Timers().ReleaseRef(tm)
	var ws syscall.WaitStatus
	if _, err := syscall.Wait4(pid, &ws, syscall.WNOHANG, nil); err != syscall.ECHILD {
		t.Fatalf("the released child was not reaped: wait4 says %v", err)
	}
}

func TestProcessAdopt(t *testing.T) {
	checkNoFDLeak(t)
	forEachDriverAnd(t, processStandIns, func(t *testing.T, d *Driver) {
		pr := d.Processes()
		pid := forkSh(t, "exit 5")
		id := mustAdopt(t, d, pid)
		if code := waitExitCode(t, d, id); code != 5 {
			t.Fatalf("adopted child's exit code %d", code)
		}
		pr.ReleaseRef(id)
		if _, err := pr.Adopt(pid); err == nil { // reaped: gone
			t.Error("adopting a reaped process succeeded")
		}
		if _, err := pr.Spawn([]string{"no-such-program-eventcore"}, RedirectNone, RedirectNone, RedirectNone, nil, 0, ""); err == nil {
			t.Error("spawning a missing program succeeded")
		}
		if _, err := pr.Spawn(nil, RedirectNone, RedirectNone, RedirectNone, nil, 0, ""); err == nil {
			t.Error("spawning nothing succeeded")
		}
		if pr.Wait(ProcessID{}, func(ProcessID, int) { t.Error("wait on the zero process called") }) != (ProcessWaitID{}) {
			t.Error("Wait on the zero process")
		}
	})
}

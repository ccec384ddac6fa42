package eventcore

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Windows has no cat, sleep or sh to spawn: the test binary plays the
// child itself when helperEnv says what to do (see init).

func init() {
	mode := os.Getenv(helperEnv)
	if mode == "" {
		return
	}
	verb, arg, _ := strings.Cut(mode, ":")
	switch verb {
	case "cat": // stdin to stdout
		io.Copy(os.Stdout, os.Stdin)
	case "exit":
		n, _ := strconv.Atoi(arg)
		os.Exit(n)
	case "env": // a variable and the working directory
		wd, _ := os.Getwd()
		fmt.Printf("%s=%s in %s", arg, os.Getenv(arg), filepath.Base(wd))
	case "both": // one line to each output
		fmt.Fprint(os.Stdout, "to stdout\n")
		fmt.Fprint(os.Stderr, "to stderr\n")
	case "sleep":
		time.Sleep(time.Hour)
	}
	os.Exit(0)
}

// helper returns the Spawn arguments and environment of a helper child.
func helper(mode string) ([]string, map[string]string) {
	return []string{os.Args[0]}, map[string]string{helperEnv: mode}
}

func TestProcessCatThroughPipes(t *testing.T) {
	checkNoFDLeak(t)
	forEachDriver(t, func(t *testing.T, d *Driver) {
		pr := d.Processes()
		args, env := helper("cat")
		proc, err := pr.Spawn(args, RedirectPipe, RedirectPipe, RedirectNone, env, 0, "")
		if err != nil {
			t.Fatal(err)
		}
		if proc.Stdin == (Pipe{}) || proc.Stdout == (Pipe{}) || proc.Stderr != (Pipe{}) {
			t.Fatalf("pipes %+v", proc)
		}
		var out strings.Builder
		done := false
		readAll(t, d, proc.Stdout, &out, &done)
		msg := []byte(strings.Repeat("through the child's pipes\n", 4000)) // more than a pipe buffer
		var w ioResult
		d.Pipes().Write(proc.Stdin, msg, IOModeAll, func(p Pipe, st IOStatus, n int) {
			w = ioResult{true, st, n}
			d.Pipes().Close(p, nil)
			d.Pipes().ReleaseRef(p)
		})
		code := -1
		pr.Wait(proc.ID, func(_ ProcessID, c int) { code = c })
		runUntil(t, d, "cat to finish", func() bool { return done && code >= 0 })
		if w.status != IOStatusOK || w.n != len(msg) || out.String() != string(msg) || code != 0 {
			t.Fatalf("write %+v, read %d bytes (want %d), exit code %d", w, out.Len(), len(msg), code)
		}
		pr.ReleaseRef(proc.ID)
	})
}

func TestProcessExitCodes(t *testing.T) {
	checkNoFDLeak(t)
	forEachDriver(t, func(t *testing.T, d *Driver) {
		for _, want := range []int{0, 3, 255} {
			args, env := helper("exit:" + strconv.Itoa(want))
			if _, _, code := spawnAndCollect(t, d, args, RedirectNone, RedirectNone, env, 0, ""); code != want {
				t.Errorf("exit code %d, want %d", code, want)
			}
		}
		if _, err := d.Processes().Spawn([]string{`C:\no\such\program.exe`}, RedirectNone, RedirectNone, RedirectNone, nil, 0, ""); err == nil {
			t.Error("spawning a missing program succeeded")
		}
	})
}

func TestProcessRedirects(t *testing.T) {
	checkNoFDLeak(t)
	forEachDriver(t, func(t *testing.T, d *Driver) {
		args, env := helper("both")
		out, errS, _ := spawnAndCollect(t, d, args, RedirectPipe, RedirectPipe, env, 0, "")
		if out != "to stdout\n" || errS != "to stderr\n" {
			t.Errorf("separate: %q, %q", out, errS)
		}
		out, _, _ = spawnAndCollect(t, d, args, RedirectPipe, RedirectToStdout, env, 0, "")
		if out != "to stdout\nto stderr\n" {
			t.Errorf("stderr to stdout: %q", out)
		}
		_, errS, _ = spawnAndCollect(t, d, args, RedirectToStderr, RedirectPipe, env, 0, "")
		if errS != "to stdout\nto stderr\n" {
			t.Errorf("stdout to stderr: %q", errS)
		}
		// A stream to a file this process has open.
		path := filepath.Join(tempDir(t), "out")
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		spawnAndCollect(t, d, args, RedirectFD(f.Fd()), RedirectNone, env, 0, "")
		f.Close()
		if got, _ := os.ReadFile(path); string(got) != "to stdout\n" {
			t.Errorf("stdout to a file: %q", got)
		}
		if _, err := d.Processes().Spawn(args, RedirectNone, RedirectToStderr, RedirectToStdout, env, 0, ""); err == nil {
			t.Error("stdout and stderr redirected to each other")
		}
	})
}

func TestProcessEnvironmentAndDir(t *testing.T) {
	checkNoFDLeak(t)
	forEachDriver(t, func(t *testing.T, d *Driver) {
		dir := tempDir(t)
		os.Mkdir(filepath.Join(dir, "work"), 0o755)
		args, env := helper("env:EVENTCORE_TEST_VAR")
		env["EVENTCORE_TEST_VAR"] = "set by the test"
		out, _, code := spawnAndCollect(t, d, args, RedirectPipe, RedirectNone, env, 0, filepath.Join(dir, "work"))
		if out != "EVENTCORE_TEST_VAR=set by the test in work" || code != 0 {
			t.Errorf("child printed %q, exit code %d", out, code)
		}
		// A new environment holds only what was given (and what Windows
		// adds for every process).
		os.Setenv("EVENTCORE_TEST_INHERITED", "x")
		defer os.Unsetenv("EVENTCORE_TEST_INHERITED")
		args, env = helper("env:EVENTCORE_TEST_INHERITED")
		env["SystemRoot"] = os.Getenv("SystemRoot") // a Windows program needs it
		out, _, _ = spawnAndCollect(t, d, args, RedirectPipe, RedirectNone, env, ProcessNewEnvironment, dir)
		if !strings.HasPrefix(out, "EVENTCORE_TEST_INHERITED= in") {
			t.Errorf("inherited variable in a new environment: %q", out)
		}
		out, _, _ = spawnAndCollect(t, d, args, RedirectPipe, RedirectNone, env, 0, dir)
		if !strings.HasPrefix(out, "EVENTCORE_TEST_INHERITED=x in") {
			t.Errorf("extended environment: %q", out)
		}
	})
}

func TestProcessKillAndCancelWait(t *testing.T) {
	checkNoFDLeak(t)
	forEachDriver(t, func(t *testing.T, d *Driver) {
		pr := d.Processes()
		args, env := helper("sleep")
		proc, err := pr.Spawn(args, RedirectNone, RedirectNone, RedirectNone, env, ProcessDetached|ProcessSuppressConsole, "")
		if err != nil {
			t.Fatal(err)
		}
		w1 := pr.Wait(proc.ID, func(ProcessID, int) { t.Error("cancelled wait called") })
		code := -1
		pr.Wait(proc.ID, func(_ ProcessID, c int) { code = c })
		if d.Core().WaiterCount() != 2 || !pr.CancelWait(proc.ID, w1) || pr.CancelWait(proc.ID, w1) {
			t.Fatal("CancelWait")
		}
		runFor(d, 20*time.Millisecond)
		if code != -1 || pr.HasExited(proc.ID) {
			t.Fatal("the sleeping child exited early")
		}
		if err := pr.Kill(proc.ID, syscall.SIGTERM); !errors.Is(err, ErrNotSupported) {
			t.Errorf("Kill with SIGTERM on Windows: %v", err)
		}
		if err := pr.Kill(proc.ID, os.Kill); err != nil {
			t.Fatal(err)
		}
		runUntil(t, d, "killed process", func() bool { return code != -1 })
		if code != 1 || !pr.HasExited(proc.ID) {
			t.Fatalf("exit code of a terminated process: %d", code)
		}
		if err := pr.Kill(proc.ID, os.Kill); !errors.Is(err, os.ErrProcessDone) {
			t.Errorf("Kill after the exit: %v", err)
		}
		// A wait on an exited process runs at once.
		ran := false
		if w := pr.Wait(proc.ID, func(_ ProcessID, c int) { ran = c == 1 }); w != (ProcessWaitID{}) || !ran {
			t.Error("Wait on an exited process")
		}
		pr.ReleaseRef(proc.ID)
	})
}

func TestProcessReleasedWhileRunning(t *testing.T) {
	checkNoFDLeak(t)
	forEachDriver(t, func(t *testing.T, d *Driver) {
		pr := d.Processes()
		args, env := helper("sleep")
		proc, err := pr.Spawn(args, RedirectNone, RedirectNone, RedirectNone, env, 0, "")
		if err != nil {
			t.Fatal(err)
		}
		pid := pr.PID(proc.ID)
		pr.Wait(proc.ID, func(ProcessID, int) { t.Error("wait of a released process called") })
		pr.ReleaseRef(proc.ID)
		if d.Core().WaiterCount() != 0 {
			t.Fatal("released process still counted")
		}
		// It keeps running; end it from outside.
		if p, err := os.FindProcess(pid); err == nil {
			p.Kill()
			p.Release()
		}
		runFor(d, 50*time.Millisecond)
	})
}

func TestProcessAdopt(t *testing.T) {
	checkNoFDLeak(t)
	forEachDriver(t, func(t *testing.T, d *Driver) {
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), helperEnv+"=exit:7")
		cmd.Stdin = nil
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		id, err := d.Processes().Adopt(cmd.Process.Pid)
		if err != nil {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatal(err)
		}
		code := -1
		d.Processes().Wait(id, func(_ ProcessID, c int) { code = c })
		runUntil(t, d, "adopted process", func() bool { return code != -1 })
		if code != 7 {
			t.Errorf("adopted process's exit code: %d", code)
		}
		cmd.Wait()
		d.Processes().ReleaseRef(id)
		if _, err := d.Processes().Adopt(0); err == nil {
			t.Error("adopting pid 0 succeeded")
		}
	})
}

func TestPipeWaitCancelAndBroken(t *testing.T) {
	checkNoFDLeak(t)
	forEachDriver(t, func(t *testing.T, d *Driver) {
		pr, pp := d.Processes(), d.Pipes()
		args, env := helper("cat")
		proc, err := pr.Spawn(args, RedirectPipe, RedirectPipe, RedirectNone, env, 0, "")
		if err != nil {
			t.Fatal(err)
		}
		// A cancelled read never calls back; the data stays for the next.
		buf := make([]byte, 64)
		pp.Read(proc.Stdout, buf, IOModeOnce, func(Pipe, IOStatus, int) { t.Error("cancelled read called") })
		pp.CancelRead(proc.Stdout)
		var r ioResult
		pp.Read(proc.Stdout, buf, IOModeImmediate, func(_ Pipe, st IOStatus, n int) { r = ioResult{true, st, n} })
		if !r.done || r.status != IOStatusWouldBlock {
			t.Fatalf("immediate read of an empty pipe: %+v", r)
		}
		var w, wait ioResult
		pp.WaitForData(proc.Stdout, func(_ Pipe, st IOStatus, n int) { wait = ioResult{true, st, n} })
		pp.Write(proc.Stdin, []byte("ping"), IOModeImmediate, func(_ Pipe, st IOStatus, n int) { w = ioResult{true, st, n} })
		runUntil(t, d, "data", func() bool { return wait.done && w.done })
		if wait.status != IOStatusOK || w.status != IOStatusOK || w.n != 4 {
			t.Fatalf("wait %+v, write %+v", wait, w)
		}
		r = ioResult{}
		pp.Read(proc.Stdout, buf[:4], IOModeAll, func(_ Pipe, st IOStatus, n int) { r = ioResult{true, st, n} })
		runUntil(t, d, "echo", func() bool { return r.done })
		if r.status != IOStatusOK || string(buf[:4]) != "ping" {
			t.Fatalf("echo: %+v %q", r, buf[:r.n])
		}
		r = ioResult{}
		pp.Read(proc.Stdout, buf, IOModeAll, func(_ Pipe, st IOStatus, n int) { r = ioResult{true, st, n} })
		pr.Kill(proc.ID, os.Kill)
		runUntil(t, d, "end of the pipe", func() bool { return r.done })
		if r.status != IOStatusDisconnected || r.n != 0 {
			t.Fatalf("read until the child died: %+v", r)
		}
		// Writing to a pipe whose reader is gone.
		w = ioResult{}
		pp.Write(proc.Stdin, []byte("late"), IOModeAll, func(_ Pipe, st IOStatus, n int) { w = ioResult{true, st, n} })
		runUntil(t, d, "write to a dead child", func() bool { return w.done })
		if w.status != IOStatusDisconnected {
			t.Errorf("write to a closed pipe: %+v (%v)", w, d.LastError(proc.Stdin))
		}
		pp.ReleaseRef(proc.Stdin)
		pp.ReleaseRef(proc.Stdout)
		pr.ReleaseRef(proc.ID)
	})
}

func TestPipeAdoptErrors(t *testing.T) {
	checkNoFDLeak(t)
	forEachDriver(t, func(t *testing.T, d *Driver) {
		// An anonymous pipe cannot do overlapped I/O.
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		defer w.Close()
		if _, err := d.Pipes().Adopt(r.Fd()); !errors.Is(err, ErrNotSupported) {
			t.Errorf("adopting an anonymous pipe: %v", err)
		}
		f, err := os.Create(filepath.Join(tempDir(t), "file"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := d.Pipes().Adopt(f.Fd()); !errors.Is(err, ErrNotSupported) {
			t.Errorf("adopting a regular file as a pipe: %v", err)
		}
		var res ioResult
		d.Pipes().Read(Pipe{}, nil, IOModeOnce, func(_ Pipe, st IOStatus, n int) { res = ioResult{true, st, n} })
		if res.status != IOStatusInvalidHandle {
			t.Errorf("read of the zero Pipe: %+v", res)
		}
	})
}

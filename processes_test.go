package eventcore

import (
	"strings"
	"testing"
)

// Helpers of the process tests of every OS.

// readAll reads p until the end of the pipe, then releases it.
func readAll(t *testing.T, d *Driver, p Pipe, out *strings.Builder, done *bool) {
	buf := make([]byte, 512)
	var cb PipeIOCallback
	cb = func(p Pipe, st IOStatus, n int) {
		out.Write(buf[:n])
		if st == IOStatusOK {
			d.Pipes().Read(p, buf, IOModeOnce, cb)
			return
		}
		d.Pipes().ReleaseRef(p)
		*done = true
	}
	d.Pipes().Read(p, buf, IOModeOnce, cb)
}

// run spawns args, collects its stdout and stderr pipes (when redirected to
// pipes) and its exit code.
func spawnAndCollect(t *testing.T, d *Driver, args []string, stdout, stderr Redirect, env map[string]string, cfg ProcessConfig, dir string) (outS, errS string, code int) {
	t.Helper()
	pr := d.Processes()
	proc, err := pr.Spawn(args, RedirectNone, stdout, stderr, env, cfg, dir)
	if err != nil {
		t.Fatalf("Spawn(%q): %v", args, err)
	}
	var out, errb strings.Builder
	outDone, errDone, exited := proc.Stdout == (Pipe{}), proc.Stderr == (Pipe{}), false
	if !outDone {
		readAll(t, d, proc.Stdout, &out, &outDone)
	}
	if !errDone {
		readAll(t, d, proc.Stderr, &errb, &errDone)
	}
	pr.Wait(proc.ID, func(_ ProcessID, c int) { code, exited = c, true })
	runUntil(t, d, "process "+args[0], func() bool { return exited && outDone && errDone })
	if !pr.HasExited(proc.ID) {
		t.Error("HasExited false after the exit callback")
	}
	pr.ReleaseRef(proc.ID)
	return out.String(), errb.String(), code
}

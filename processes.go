package eventcore

import "os"

// ProcessExitCallback is called once per Wait (unless cancelled) with the
// process's exit code: its exit status if it exited, minus the signal number
// if a signal ended it (POSIX), or ExitCodeUnknown when the system cannot
// tell (an adopted process that is not a child of this one).
type ProcessExitCallback func(p ProcessID, exitCode int)

// ExitCodeUnknown is the exit code reported when the system cannot tell.
const ExitCodeUnknown = -1 << 31

// Redirect says where a child's standard stream goes. The zero value is
// RedirectInherit.
type Redirect struct {
	kind redirectKind
	fd   uintptr
}

type redirectKind uint8

const (
	redirectInherit redirectKind = iota
	redirectPipe
	redirectNone
	redirectFD
	redirectToStdout
	redirectToStderr
)

var (
	// RedirectInherit gives the child this process's stream.
	RedirectInherit = Redirect{}
	// RedirectPipe connects the stream to a new pipe, whose other end
	// Spawn returns as a Pipe handle.
	RedirectPipe = Redirect{kind: redirectPipe}
	// RedirectNone connects the stream to the null device.
	RedirectNone = Redirect{kind: redirectNone}
	// RedirectToStdout (for stderr only) sends the child's standard error
	// wherever its standard output goes.
	RedirectToStdout = Redirect{kind: redirectToStdout}
	// RedirectToStderr (for stdout only) sends the child's standard output
	// wherever its standard error goes.
	RedirectToStderr = Redirect{kind: redirectToStderr}
)

// RedirectFD connects the stream to fd, a descriptor (a handle on Windows)
// of this process; the caller keeps it and may close it once Spawn returns.
func RedirectFD(fd uintptr) Redirect { return Redirect{kind: redirectFD, fd: fd} }

// ProcessConfig are flags for [Processes.Spawn].
type ProcessConfig uint8

const (
	// ProcessNewEnvironment: the env given to Spawn is the child's whole
	// environment; without it, env extends (and overrides) this process's.
	ProcessNewEnvironment ProcessConfig = 1 << iota
	// ProcessDetached: the child runs in a session of its own (POSIX
	// setsid; DETACHED_PROCESS on Windows), away from this process's
	// terminal and its signals.
	ProcessDetached
	// ProcessSuppressConsole: on Windows, the child gets no console window;
	// elsewhere it has no effect.
	ProcessSuppressConsole
)

// Process is a spawned child: its handle, and the pipes of the streams
// redirected with RedirectPipe (zero Pipes for the others). The pipes are
// the caller's to read, write and release, like any Pipe.
type Process struct {
	ID     ProcessID
	Stdin  Pipe
	Stdout Pipe
	Stderr Pipe
}

// Processes starts and watches child processes: [Driver.Processes] returns
// it. Its methods belong to the loop's owner goroutine.
//
// A process's exit is noticed through the system's event mechanism, never
// by polling or a goroutine per child: a pidfd on Linux (5.3 and later),
// kqueue's EVFILT_PROC with the kqueue driver (macOS and the BSDs), and
// SIGCHLD otherwise (the poll driver on macOS and the BSDs, Linux before
// 5.3). Only children raise SIGCHLD, so there Adopt of a process that is not
// a child gives ErrNotSupported. The driver reaps the children it watches:
// do not wait for them with other means.
type Processes struct{ l *loop }

// Spawn starts args[0] (looked up in PATH if it contains no path separator)
// with arguments args, its standard streams redirected as given, env added
// to (or, with ProcessNewEnvironment, replacing) the environment, in
// workingDir unless it is empty. It returns the process and the pipes of the
// RedirectPipe streams.
func (p Processes) Spawn(args []string, stdin, stdout, stderr Redirect, env map[string]string, config ProcessConfig, workingDir string) (Process, error) {
	return p.l.procSpawn(args, stdin, stdout, stderr, env, config, workingDir)
}

// Adopt watches an existing process, by its system process ID. Its exit
// code is known only if it is a child of this process; otherwise Wait
// reports ExitCodeUnknown. A process that is not running gives an error
// (ESRCH on POSIX), unless it is a child whose exit is still to be
// collected: that one is adopted as exited.
func (p Processes) Adopt(pid int) (ProcessID, error) {
	h, err := p.l.procAdopt(pid)
	return ProcessID{h}, err
}

// PID returns the system's process ID, 0 for an invalid handle.
func (p Processes) PID(proc ProcessID) int { return p.l.procPID(proc.h) }

// Kill sends sig to the process (on Windows only os.Kill, which terminates
// it). It fails with os.ErrProcessDone once the process has exited.
func (p Processes) Kill(proc ProcessID, sig os.Signal) error { return p.l.procKill(proc.h, sig) }

// HasExited reports whether the process has exited (false for an invalid
// handle).
func (p Processes) HasExited(proc ProcessID) bool { return p.l.procHasExited(proc.h) }

// Wait calls cb once, from ProcessEvents, when the process exits, and
// returns the wait's ID for CancelWait. Any number of waits may be pending;
// each counts as a waiter. If the process has already exited, cb runs
// before Wait returns and the returned ID is zero. It returns the zero ID,
// calling nothing, for an invalid handle.
func (p Processes) Wait(proc ProcessID, cb ProcessExitCallback) ProcessWaitID {
	return ProcessWaitID{p.l.procWait(proc.h, cb)}
}

// CancelWait removes the pending wait w: its callback will not run. It
// reports whether the wait was pending.
func (p Processes) CancelWait(proc ProcessID, w ProcessWaitID) bool {
	return p.l.procCancelWait(proc.h, w.h)
}

// AddRef adds a reference to the process handle.
func (p Processes) AddRef(proc ProcessID) { p.l.procAddRef(proc.h) }

// ReleaseRef drops a reference; the last one cancels pending waits (their
// callbacks do not run) and frees the handle. A child still running is not
// killed: the driver goes on watching it, out of sight (it is no waiter),
// to reap it when it exits while the loop runs. It reports whether the
// handle is still alive: false when this call freed it or the handle was
// invalid.
func (p Processes) ReleaseRef(proc ProcessID) bool { return p.l.procRelease(proc.h) }

// stdRedirects is a family's child standard streams in the making
// (spawnFiles on POSIX, spawnHandles on Windows).
type stdRedirects interface {
	set(i int, r Redirect) error // stream i as r says
	alias(dst, src int)          // stream dst onto stream src's file
	closeParentEnds()            // the pipe ends this process would keep
}

// setRedirects prepares stdin, stdout and stderr of a child as rs says.
// On failure it closes the pipe ends already made for this process; the
// caller closes the child's ends either way, once the child started.
func setRedirects(sp stdRedirects, rs [3]Redirect) error {
	for i, r := range rs {
		if err := sp.set(i, r); err != nil {
			sp.closeParentEnds()
			return err
		}
	}
	switch {
	case rs[1].kind == redirectToStderr:
		sp.alias(1, 2)
	case rs[2].kind == redirectToStdout:
		sp.alias(2, 1)
	}
	return nil
}

// wakeExitWaiter calls the oldest wait of exited process h registered
// before the sequence number limit, taking it off the list first; it
// reports false if there is none.
func (l *loop) wakeExitWaiter(h handle, limit uint32) bool {
	e := l.procs.get(h, kindProcess)
	if e == nil {
		return false
	}
	cb, ok := popWaiter(&l.procWaits, &e.v.waits, limit)
	if !ok {
		return false
	}
	l.waiters--
	l.depth++
	cb(ProcessID{h}, e.v.code)
	l.depth--
	return true
}

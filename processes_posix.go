//go:build unix

package eventcore

import (
	"math"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// Child processes on readiness drivers. A process's exit is watched, in
// order of preference, through a pidfd the poller reports readable (Linux,
// procwatch_linux.go), through the poller itself where it can watch
// processes (kqueue's EVFILT_PROC, a procWatcher), or through SIGCHLD,
// which only children raise. When the exit is reported the process is
// reaped with wait4 and its waits run. A released process that still runs
// becomes an orphan: watched out of sight until it can be reaped.

// pathSeparators are what makes a program name a path, not a name to look
// up in PATH.
const pathSeparators = "/"

// procSys is the readiness drivers' part of a process.
type procSys struct {
	watch exitWatch
}

type orphanProc struct {
	pid   int
	watch exitWatch
}

// exitWatch is how a process's exit is watched.
type exitWatch struct {
	via exitVia
	fd  int // the pidfd, with viaPidfd
}

type exitVia uint8

const (
	viaNone    exitVia = iota // not watched: the exit is known
	viaPidfd                  // a pidfd the poller reports readable
	viaPoller                 // the poller's procWatcher
	viaSIGCHLD                // SIGCHLD, for children only
)

// told reports whether the mechanism names the very process that exited,
// so that a wait4 finding no child means the process is gone, its status
// reported to its own parent (SIGCHLD says only that some child changed).
func (w exitWatch) told() bool { return w.via == viaPidfd || w.via == viaPoller }

func (l *loop) procSpawn(args []string, stdin, stdout, stderr Redirect, env map[string]string, config ProcessConfig, dir string) (Process, error) {
	if l.disposed {
		return Process{}, ErrDisposed
	}
	path, err := spawnPath(args, stdout, stderr)
	if err != nil {
		return Process{}, err
	}

	var sp spawnFiles
	defer sp.closeChildEnds()
	if err := setRedirects(&sp, [3]Redirect{stdin, stdout, stderr}); err != nil {
		return Process{}, err
	}
	attr := &syscall.ProcAttr{
		Dir:   dir,
		Env:   spawnEnv(env, config),
		Files: sp.child[:],
		Sys:   &syscall.SysProcAttr{Setsid: config&ProcessDetached != 0},
	}
	pid, err := syscall.ForkExec(path, args, attr)
	if err != nil {
		sp.closeParentEnds()
		return Process{}, &os.PathError{Op: "fork/exec", Path: path, Err: err}
	}
	h, err := l.procWatch(pid, true)
	if err != nil {
		// The child runs, but cannot be watched: do not leave it unknown.
		unix.Kill(pid, unix.SIGKILL)
		var ws unix.WaitStatus
		unix.Wait4(pid, &ws, 0, nil)
		sp.closeParentEnds()
		return Process{}, err
	}
	proc := Process{ID: ProcessID{h}}
	for i, p := range []*Pipe{&proc.Stdin, &proc.Stdout, &proc.Stderr} {
		if sp.parent[i] < 0 {
			continue
		}
		ph, err := l.pipeAdopt(uintptr(sp.parent[i]))
		if err != nil {
			unix.Close(sp.parent[i])
			continue // the child sees the end of the pipe
		}
		*p = Pipe{ph}
	}
	return proc, nil
}

// spawnFiles are the descriptors of a child's standard streams: the ones it
// gets (child) and the pipe ends this process keeps (parent).
type spawnFiles struct {
	child     [3]uintptr
	parent    [3]int
	opened    []int // descriptors opened for the child, closed after the fork
	hasParent bool
}

func (sp *spawnFiles) set(i int, r Redirect) error {
	if !sp.hasParent {
		sp.parent = [3]int{-1, -1, -1}
		sp.hasParent = true
	}
	switch r.kind {
	case redirectInherit, redirectToStdout, redirectToStderr:
		sp.child[i] = uintptr(i)
	case redirectFD:
		sp.child[i] = r.fd
	case redirectNone:
		flags := unix.O_WRONLY
		if i == 0 {
			flags = unix.O_RDONLY
		}
		fd, err := unix.Open(os.DevNull, flags|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		sp.opened = append(sp.opened, fd)
		sp.child[i] = uintptr(fd)
	case redirectPipe:
		var p [2]int
		if err := sysPipe(&p); err != nil {
			return err
		}
		mine, theirs := p[0], p[1]
		if i == 0 {
			mine, theirs = p[1], p[0]
		}
		sp.opened = append(sp.opened, theirs)
		sp.child[i] = uintptr(theirs)
		sp.parent[i] = mine
	}
	return nil
}

func (sp *spawnFiles) closeChildEnds() {
	for _, fd := range sp.opened {
		unix.Close(fd)
	}
}

// alias gives the child's stream dst the same file as its stream src.
func (sp *spawnFiles) alias(dst, src int) { sp.child[dst] = sp.child[src] }

func (sp *spawnFiles) closeParentEnds() {
	for i, fd := range sp.parent {
		if fd >= 0 {
			unix.Close(fd)
			sp.parent[i] = -1
		}
	}
}

func (l *loop) procAdopt(pid int) (handle, error) {
	if l.disposed {
		return 0, ErrDisposed
	}
	if pid <= 0 || pid > math.MaxInt32 {
		// No such process: pid_t has 32 bits, and a larger pid must not be
		// cut to another process's.
		return 0, unix.ESRCH
	}
	return l.procWatch(pid, false)
}

// procWatch creates the handle of process pid and starts watching its exit.
func (l *loop) procWatch(pid int, child bool) (handle, error) {
	h, e := l.procs.alloc(kindProcess)
	if e == nil {
		return 0, ErrTooManyHandles
	}
	e.v = processObj{pid: pid}
	w, err := l.sysWatchExit(pid, child, h)
	if err == unix.ESRCH {
		// Not running: kqueue refuses a process that has exited, or is on
		// its way out.
		switch r, code := reap(pid); {
		case r == reaped:
			e.v.exited, e.v.code = true, code
			return h, nil
		case r == notReaped:
			// Our child, on its way out but not yet a zombie (macOS): it
			// raises SIGCHLD when it becomes one.
			l.sigchldWatch(true)
			w, err = exitWatch{via: viaSIGCHLD}, nil
		case child || unix.Kill(pid, 0) != unix.ESRCH:
			// Exited, its status gone elsewhere (another parent's zombie,
			// or a child reaped by other means).
			e.v.exited, e.v.code = true, ExitCodeUnknown
			return h, nil
		}
	}
	if err != nil {
		l.procs.release(h, e)
		return 0, err
	}
	e.v.sys.watch = w
	if w.via == viaSIGCHLD {
		l.procReap(h, e) // it may have exited before SIGCHLD was watched
	}
	return h, nil
}

// watchExitNoPidfd watches pid's exit where there is no pidfd: through the
// poller if it can watch processes (kqueue), else through SIGCHLD.
func (l *loop) watchExitNoPidfd(pid int, child bool, h handle) (exitWatch, error) {
	if l.pollerExits != nil && !l.noPollerExits {
		if err := l.pollerExits.watchExit(pid, h); err != nil {
			return exitWatch{}, err
		}
		return exitWatch{via: viaPoller}, nil
	}
	if err := sigchldWatchable(pid, child); err != nil {
		return exitWatch{}, err
	}
	l.sigchldWatch(true)
	return exitWatch{via: viaSIGCHLD}, nil
}

// sigchldWatch counts the processes watched through SIGCHLD.
func (l *loop) sigchldWatch(add bool) {
	if add {
		if l.sigchldUsers++; l.sigchldUsers == 1 {
			l.sigRef(unix.SIGCHLD)
		}
	} else if l.sigchldUsers--; l.sigchldUsers == 0 {
		l.sigUnref(unix.SIGCHLD)
	}
}

// sysSignal is called on the loop for every signal received.
func (l *loop) sysSignal(sig os.Signal) {
	if sig != unix.SIGCHLD || l.sigchldUsers == 0 {
		return
	}
	l.procs.each(func(h handle, e *entry[processObj]) {
		if e.v.sys.watch.via == viaSIGCHLD {
			l.procReap(h, e)
		}
	})
	for h, o := range l.orphans {
		if o.watch.via == viaSIGCHLD {
			l.orphanReap(h, o)
		}
	}
}

// waitExit reaps pid if it has exited: done reports whether it has, and
// code its exit code. gone says that pid is known to have exited, so that
// finding no such child means its status went elsewhere.
func waitExit(pid int, gone bool) (done bool, code int) {
	switch r, code := reap(pid); r {
	case reaped:
		return true, code
	case notChild:
		return gone, ExitCodeUnknown
	}
	return false, 0
}

type reapResult uint8

const (
	notReaped reapResult = iota // running, stopped, or not yet collectable
	reaped
	notChild // not a child of this process (or no longer)
)

// reap collects pid's exit status if it is a child that has exited, and
// returns its exit code.
func reap(pid int) (reapResult, int) {
	for {
		var ws unix.WaitStatus
		got, err := unix.Wait4(pid, &ws, unix.WNOHANG, nil)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.ECHILD:
			return notChild, 0
		case err != nil || got == 0:
			return notReaped, 0
		case ws.Exited():
			return reaped, ws.ExitStatus()
		case ws.Signaled():
			return reaped, -int(ws.Signal())
		}
		return notReaped, 0 // stopped or continued: still there
	}
}

// procReady runs when the poller reports a process's exit.
func (l *loop) procReady(h handle) {
	if e := l.procs.get(h, kindProcess); e != nil {
		l.procReap(h, e)
	} else if o, ok := l.orphans[h]; ok {
		l.orphanReap(h, o)
	}
}

// reapLater is for a process whose exit was reported before wait4 can
// collect it: FreeBSD posts NOTE_EXIT before the process becomes a zombie.
// The loop looks again on its next round, without blocking.
func (l *loop) reapLater(h handle, w exitWatch) {
	if w.told() {
		l.deferService(h)
	}
}

func (l *loop) procReap(h handle, e *entry[processObj]) {
	if e.v.exited {
		return
	}
	done, code := waitExit(e.v.pid, e.v.sys.watch.told())
	if !done {
		l.reapLater(h, e.v.sys.watch)
		return
	}
	l.procUnwatch(h, e.v.pid, e.v.sys.watch)
	e.v.sys.watch = exitWatch{}
	l.procExited(h, e, code)
}

func (l *loop) orphanReap(h handle, o orphanProc) {
	if done, _ := waitExit(o.pid, o.watch.told()); done {
		l.procUnwatch(h, o.pid, o.watch)
		delete(l.orphans, h)
	} else {
		l.reapLater(h, o.watch)
	}
}

// procUnwatch stops watching process pid, watched by h through w.
func (l *loop) procUnwatch(h handle, pid int, w exitWatch) {
	switch w.via {
	case viaPidfd:
		l.p.del(w.fd)
		unix.Close(w.fd)
	case viaPoller:
		l.pollerExits.unwatchExit(pid, h)
	case viaSIGCHLD:
		l.sigchldWatch(false)
	}
}

func (l *loop) procKill(h handle, sig os.Signal) error {
	e := l.procs.get(h, kindProcess)
	if e == nil {
		return ErrInvalidHandle
	}
	if e.v.exited {
		return os.ErrProcessDone
	}
	s, ok := sig.(syscall.Signal)
	if !ok {
		return ErrNotSupported
	}
	err := l.sysKill(e.v.pid, e.v.sys.watch, s)
	if err != nil {
		e.setErr(err)
	}
	return err
}

func (l *loop) procFree(h handle, e *entry[processObj]) {
	l.waiters -= clearWaiters(&l.procWaits, &e.v.waits)
	if !e.v.exited {
		if l.orphans == nil {
			l.orphans = make(map[handle]orphanProc)
		}
		l.orphans[h] = orphanProc{pid: e.v.pid, watch: e.v.sys.watch}
	}
	l.procs.release(h, e)
}

func (l *loop) disposeProcs() {
	l.procs.each(func(h handle, e *entry[processObj]) { l.procFree(h, e) })
	for h, o := range l.orphans {
		l.procUnwatch(h, o.pid, o.watch)
		delete(l.orphans, h)
	}
}

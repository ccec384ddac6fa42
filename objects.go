package eventcore

import (
	"errors"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strings"
)

// What every driver family shares about processes, files and watchers:
// the process object, its waits and the child's environment, reference
// counting, and the start of a file's close. Starting processes, noticing
// their exit, file I/O and watching are each family's own
// (processes_posix.go, processes_windows.go, files_*.go, watchers_*.go).

type processObj struct {
	pid    int
	exited bool
	code   int
	waits  waitList
	sys    procSys
}

// spawnPath checks Spawn's arguments and returns the program's path:
// args[0], looked up in PATH when it names no directory.
func spawnPath(args []string, stdout, stderr Redirect) (string, error) {
	if len(args) == 0 {
		return "", errors.New("eventcore: Spawn needs a program")
	}
	if stdout.kind == redirectToStderr && stderr.kind == redirectToStdout {
		return "", errors.New("eventcore: stdout and stderr redirected to each other")
	}
	if strings.ContainsAny(args[0], pathSeparators) {
		return args[0], nil
	}
	return exec.LookPath(args[0])
}

// procExited records the exit of process h and runs its waits.
func (l *loop) procExited(h handle, e *entry[processObj], code int) {
	e.v.exited, e.v.code = true, code
	l.startWake(h, &e.v.waits)
}

func spawnEnv(env map[string]string, config ProcessConfig) []string {
	var out []string
	if config&ProcessNewEnvironment == 0 {
		for _, kv := range os.Environ() {
			k, _, _ := strings.Cut(kv, "=")
			if _, over := env[k]; !over {
				out = append(out, kv)
			}
		}
	}
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		out = append(out, k+"="+env[k])
	}
	return out
}

func (l *loop) procWait(h handle, cb ProcessExitCallback) handle {
	e := l.procs.get(h, kindProcess)
	if e == nil || cb == nil {
		return 0
	}
	if e.v.exited {
		l.depth++
		cb(ProcessID{h}, e.v.code)
		l.depth--
		return 0
	}
	wh := addWaiter(&l.procWaits, kindProcessWait, &e.v.waits, h, cb)
	if wh == 0 {
		e.setErr(ErrTooManyHandles)
		return 0
	}
	l.waiters++
	return wh
}

func (l *loop) procCancelWait(h, wh handle) bool {
	e := l.procs.get(h, kindProcess)
	w := l.procWaits.get(wh, kindProcessWait)
	if e == nil || w == nil || w.v.owner != h {
		return false
	}
	removeWaiter(&l.procWaits, &e.v.waits, wh, w)
	l.waiters--
	return true
}

func (l *loop) procPID(h handle) int {
	if e := l.procs.get(h, kindProcess); e != nil {
		return e.v.pid
	}
	return 0
}

func (l *loop) procHasExited(h handle) bool {
	e := l.procs.get(h, kindProcess)
	return e != nil && e.v.exited
}

func (l *loop) procAddRef(h handle) { l.procs.addRef(h, kindProcess) }

func (l *loop) procRelease(h handle) bool { return l.procs.releaseRef(h, kindProcess, l.procFree) }

func (l *loop) fileAddRef(h handle) { l.files.addRef(h, kindFile) }

func (l *loop) fileRelease(h handle) bool { return l.files.releaseRef(h, kindFile, l.fileFree) }

func (l *loop) watchAddRef(h handle) { l.watchers.addRef(h, kindWatcher) }

func (l *loop) watchRelease(h handle) bool { return l.watchers.releaseRef(h, kindWatcher, l.watchFree) }

// fileClose starts closing the file: when no operation is pending any
// more, the family closes it (fileMaybeClose) and cb runs from the loop.
func (l *loop) fileClose(h handle, cb FileCloseCallback) {
	e := l.files.get(h, kindFile)
	if e == nil || e.v.closed() {
		if cb != nil {
			l.post(func() { cb(File{h}, CloseStatusInvalidHandle) })
		}
		return
	}
	e.v.closing = true
	e.v.closeCb = cb
	l.waiters++
	l.fileMaybeClose(h, e)
}

// fileOpenJob opens a file on the worker pool for OpenAsync. It is listed
// in loop.opening until it is finished, so that Dispose can close the file
// it opened: if the open is still running then, the worker closes the file
// itself (the open passes the gate only once it is done, so that Dispose
// never waits for an open, which can block: a FIFO).
type fileOpenJob struct {
	gate jobGate
	path string
	mode FileOpenMode
	cb   FileOpenCallback
	f    osFile // the file opened, when err is nil
	err  error
}

func (l *loop) fileOpenAsync(path string, mode FileOpenMode, cb FileOpenCallback) {
	if l.disposed {
		return
	}
	j := &fileOpenJob{path: path, mode: mode, cb: cb}
	l.opening = append(l.opening, j)
	l.waiters++
	l.workers.submit(j)
}

func (j *fileOpenJob) run() {
	f, err := openFile(j.path, j.mode)
	if !j.gate.enter() {
		if err == nil {
			closeOSFile(f) // Dispose ran meanwhile
		}
		return
	}
	j.f, j.err = f, err
	j.gate.leave()
}

func (j *fileOpenJob) finish(l *loop) {
	i := slices.Index(l.opening, j)
	if i < 0 {
		return // Dispose took care of it
	}
	l.opening = slices.Delete(l.opening, i, i+1)
	l.waiters--
	var h handle
	err := j.err
	if err == nil {
		h, err = l.newFile(j.f, j.mode == FileAppend)
	}
	st := openStatusOf(err)
	if j.cb != nil {
		l.depth++
		j.cb(File{h}, st)
		l.depth--
	} else if h != 0 {
		l.fileRelease(h) // nobody to hand it to
	}
}

// disposeOpens closes the files that asynchronous opens have opened and
// not yet handed over; an open still running closes its own.
func (l *loop) disposeOpens() {
	for _, j := range l.opening {
		if j.gate.cancel() && j.err == nil {
			closeOSFile(j.f)
		}
	}
	l.opening = nil
}

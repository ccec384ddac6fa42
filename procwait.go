package eventcore

import (
	"os"
	"sort"
	"strings"
)

// The part of processes that every driver family shares: the process
// object, its waits, and the child's environment. Starting processes and
// noticing their exit are the family's own (processes_posix.go,
// processes_windows.go). Reference counting of processes, files and
// watchers is here too, for the same reason.

type processObj struct {
	pid    int
	exited bool
	code   int
	waits  waitList
	sys    procSys
}

// procExited records the exit of process h and runs its waits.
func (l *loop) procExited(h handle, e *entry[processObj], code int) {
	e.v.exited, e.v.code = true, code
	limit := e.v.waits.seq
	for {
		cb, ok := popWaiter(&l.procWaits, &e.v.waits, limit)
		if !ok {
			return
		}
		l.waiters--
		l.depth++
		cb(ProcessID{h}, code)
		l.depth--
		if e = l.procs.get(h, kindProcess); e == nil {
			return
		}
	}
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
		e.err = ErrTooManyHandles
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

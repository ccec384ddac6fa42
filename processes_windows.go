package eventcore

import (
	"errors"
	"math"
	"os"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/windows"
)

// Processes on the winapi driver. A process handle is waitable, but the
// loop waits on two handles whatever the number of processes; instead each
// watched process has a thread-pool wait (RegisterWaitForSingleObject, run
// once) whose callback queues the exit on the loop's cross-goroutine queue:
// no goroutine or thread per child, and a hop to the loop only when a
// process ends.

// pathSeparators are what makes a program name a path, not a name to look
// up in PATH.
const pathSeparators = `/\:`

type procSys struct {
	ph   windows.Handle // the process handle
	wait windows.Handle // the thread-pool wait, 0 once unregistered
	job  *procExitJob
}

// procExitJob carries an exit from the thread pool to the loop.
type procExitJob struct {
	l  *loop
	h  handle
	id uintptr // key in procWaitsByID
}

func (j *procExitJob) run() {}

func (j *procExitJob) finish(l *loop) {
	if e := l.procs.get(j.h, kindProcess); e != nil && e.v.sys.job == j {
		l.procReap(j.h, e)
	}
}

var (
	procRegisterWait   = modkernel32.NewProc("RegisterWaitForSingleObject")
	procUnregisterWait = modkernel32.NewProc("UnregisterWaitEx")

	// procWaitsByID maps the context of a thread-pool wait to its job: the
	// pool gets a number, not a Go pointer.
	procWaitsByID struct {
		sync.Mutex
		m    map[uintptr]*procExitJob
		next uintptr
	}
)

const (
	wtExecuteOnlyOnce = 0x8
	stillActive       = 259
)

// exitCallback runs on a thread-pool thread when a watched process ends.
var exitCallback = windows.NewCallback(func(ctx, _ uintptr) uintptr {
	procWaitsByID.Lock()
	j := procWaitsByID.m[ctx]
	delete(procWaitsByID.m, ctx)
	procWaitsByID.Unlock()
	if j != nil {
		j.l.xq.push(crossItem{op: crossJob, x: j})
	}
	return 0
})

func (l *loop) procSpawn(args []string, stdin, stdout, stderr Redirect, env map[string]string, config ProcessConfig, dir string) (Process, error) {
	if l.disposed {
		return Process{}, ErrDisposed
	}
	path, err := spawnPath(args, stdout, stderr)
	if err != nil {
		return Process{}, err
	}

	var sp spawnHandles
	defer sp.closeChildEnds()
	if err := setRedirects(&sp, [3]Redirect{stdin, stdout, stderr}); err != nil {
		return Process{}, err
	}
	pi, err := createProcess(path, args, spawnEnv(env, config), dir, config, &sp)
	if err != nil {
		sp.closeParentEnds()
		return Process{}, &os.PathError{Op: "CreateProcess", Path: path, Err: err}
	}
	windows.CloseHandle(pi.Thread)
	h, err := l.procWatch(pi.Process, int(pi.ProcessId))
	if err != nil {
		windows.TerminateProcess(pi.Process, 1)
		windows.CloseHandle(pi.Process)
		sp.closeParentEnds()
		return Process{}, err
	}
	proc := Process{ID: ProcessID{h}}
	for i, p := range []*Pipe{&proc.Stdin, &proc.Stdout, &proc.Stderr} {
		if sp.parent[i] == 0 {
			continue
		}
		ph, err := l.newPipe(sp.parent[i])
		if err != nil {
			windows.CloseHandle(sp.parent[i])
			continue // the child sees the end of the pipe
		}
		*p = Pipe{ph}
	}
	return proc, nil
}

func createProcess(path string, args, env []string, dir string, config ProcessConfig, sp *spawnHandles) (*windows.ProcessInformation, error) {
	path16, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return nil, err
	}
	cmd16, err := windows.UTF16PtrFromString(windows.ComposeCommandLine(args))
	if err != nil {
		return nil, err
	}
	var dir16 *uint16
	if dir != "" {
		if dir16, err = windows.UTF16PtrFromString(dir); err != nil {
			return nil, err
		}
	}
	// The environment block: NUL-terminated entries, then a NUL.
	var block []uint16
	for _, kv := range env {
		s, err := windows.UTF16FromString(kv)
		if err != nil {
			return nil, err
		}
		block = append(block, s...)
	}
	block = append(block, 0)
	si := windows.StartupInfo{Flags: windows.STARTF_USESTDHANDLES,
		StdInput: sp.child[0], StdOutput: sp.child[1], StdErr: sp.child[2]}
	si.Cb = uint32(unsafe.Sizeof(si))
	flags := uint32(windows.CREATE_UNICODE_ENVIRONMENT)
	if config&ProcessDetached != 0 {
		flags |= windows.DETACHED_PROCESS | windows.CREATE_NEW_PROCESS_GROUP
	}
	if config&ProcessSuppressConsole != 0 {
		flags |= windows.CREATE_NO_WINDOW
	}
	pi := new(windows.ProcessInformation)
	// Handles made inheritable for one child must not leak into another
	// started meanwhile by the rest of the program (os/exec takes it too).
	syscall.ForkLock.Lock()
	err = windows.CreateProcess(path16, cmd16, nil, nil, true, flags, &block[0], dir16, &si, pi)
	syscall.ForkLock.Unlock()
	return pi, err
}

// spawnHandles are the handles of a child's standard streams: the
// inheritable ones it gets (child) and the pipe ends this process keeps
// (parent, 0 for none).
type spawnHandles struct {
	child  [3]windows.Handle
	parent [3]windows.Handle
	owned  []windows.Handle // made for the child: closed once it started
}

func (sp *spawnHandles) set(i int, r Redirect) error {
	std := [3]uint32{windows.STD_INPUT_HANDLE, windows.STD_OUTPUT_HANDLE, windows.STD_ERROR_HANDLE}
	var src windows.Handle
	switch r.kind {
	case redirectToStdout, redirectToStderr:
		if (i == 1) != (r.kind == redirectToStderr) || i == 0 {
			return errors.New("eventcore: RedirectToStdout is for stderr, RedirectToStderr for stdout")
		}
		return nil // set once both are known
	case redirectPipe:
		parent, child, err := newPipePair(i == 0)
		if err != nil {
			return err
		}
		sp.parent[i] = parent
		sp.child[i] = child
		sp.owned = append(sp.owned, child)
		return nil
	case redirectNone:
		nul, _ := windows.UTF16PtrFromString("NUL")
		sa := windows.SecurityAttributes{InheritHandle: 1}
		sa.Length = uint32(unsafe.Sizeof(sa))
		h, err := windows.CreateFile(nul, windows.GENERIC_READ|windows.GENERIC_WRITE,
			windows.FILE_SHARE_READ|windows.FILE_SHARE_WRITE, &sa, windows.OPEN_EXISTING, 0, 0)
		if err != nil {
			return err
		}
		sp.child[i] = h
		sp.owned = append(sp.owned, h)
		return nil
	case redirectFD:
		src = windows.Handle(r.fd)
	default:
		h, err := windows.GetStdHandle(std[i])
		if err != nil || h == 0 || h == windows.InvalidHandle {
			return nil // no such stream here: the child gets none either
		}
		src = h
	}
	// An inheritable duplicate, leaving the caller's handle as it is.
	self := windows.CurrentProcess()
	var dup windows.Handle
	if err := windows.DuplicateHandle(self, src, self, &dup, 0, true, windows.DUPLICATE_SAME_ACCESS); err != nil {
		return err
	}
	sp.child[i] = dup
	sp.owned = append(sp.owned, dup)
	return nil
}

func (sp *spawnHandles) closeChildEnds() {
	for _, h := range sp.owned {
		windows.CloseHandle(h)
	}
	sp.owned = nil
}

// alias gives the child's stream dst the same file as its stream src.
func (sp *spawnHandles) alias(dst, src int) { sp.child[dst] = sp.child[src] }

func (sp *spawnHandles) closeParentEnds() {
	for i, h := range sp.parent {
		if h != 0 {
			windows.CloseHandle(h)
			sp.parent[i] = 0
		}
	}
}

func (l *loop) procAdopt(pid int) (handle, error) {
	if l.disposed {
		return 0, ErrDisposed
	}
	if pid <= 0 || int64(pid) > math.MaxUint32 {
		// Process IDs are DWORDs: a larger pid must not be cut to another
		// process's.
		return 0, windows.ERROR_INVALID_PARAMETER
	}
	ph, err := windows.OpenProcess(windows.SYNCHRONIZE|windows.PROCESS_QUERY_LIMITED_INFORMATION|windows.PROCESS_TERMINATE, false, uint32(pid))
	if err != nil {
		return 0, err
	}
	h, err := l.procWatch(ph, pid)
	if err != nil {
		windows.CloseHandle(ph)
	}
	return h, err
}

// procWatch creates the handle of process ph and starts watching its exit.
func (l *loop) procWatch(ph windows.Handle, pid int) (handle, error) {
	h, e := l.procs.alloc(kindProcess)
	if e == nil {
		return 0, ErrTooManyHandles
	}
	j := &procExitJob{l: l, h: h}
	e.v = processObj{pid: pid, sys: procSys{ph: ph, job: j}}
	procWaitsByID.Lock()
	if procWaitsByID.m == nil {
		procWaitsByID.m = make(map[uintptr]*procExitJob)
	}
	procWaitsByID.next++
	j.id = procWaitsByID.next
	procWaitsByID.m[j.id] = j
	procWaitsByID.Unlock()
	r, _, err := syscall.SyscallN(procRegisterWait.Addr(), uintptr(unsafe.Pointer(&e.v.sys.wait)), uintptr(ph),
		exitCallback, j.id, uintptr(windows.INFINITE), wtExecuteOnlyOnce)
	if r == 0 {
		l.procUnwatch(e)
		l.procs.release(h, e)
		return 0, err
	}
	return h, nil
}

// procUnwatch ends the thread-pool wait of e, waiting for a callback that
// runs meanwhile: after it the callback has queued its job or never will.
func (l *loop) procUnwatch(e *entry[processObj]) {
	if w := e.v.sys.wait; w != 0 {
		syscall.SyscallN(procUnregisterWait.Addr(), uintptr(w), uintptr(windows.InvalidHandle))
		e.v.sys.wait = 0
	}
	if j := e.v.sys.job; j != nil {
		procWaitsByID.Lock()
		delete(procWaitsByID.m, j.id)
		procWaitsByID.Unlock()
		e.v.sys.job = nil
	}
}

func (l *loop) procReap(h handle, e *entry[processObj]) {
	var code uint32
	if err := windows.GetExitCodeProcess(e.v.sys.ph, &code); err != nil || code == stillActive {
		if r, _ := windows.WaitForSingleObject(e.v.sys.ph, 0); r != windows.WAIT_OBJECT_0 {
			return // still running
		}
	}
	l.procUnwatch(e)
	l.procExited(h, e, int(int32(code)))
}

// procKill terminates the process for os.Kill (SIGKILL); Windows has no
// other signal to send.
func (l *loop) procKill(h handle, sig os.Signal) error {
	e := l.procs.get(h, kindProcess)
	if e == nil {
		return ErrInvalidHandle
	}
	if e.v.exited {
		return os.ErrProcessDone
	}
	if sig != os.Kill && sig != syscall.SIGKILL {
		return ErrNotSupported
	}
	if err := windows.TerminateProcess(e.v.sys.ph, 1); err != nil {
		if r, _ := windows.WaitForSingleObject(e.v.sys.ph, 0); r == windows.WAIT_OBJECT_0 {
			return os.ErrProcessDone
		}
		e.setErr(err)
		return err
	}
	return nil
}

func (l *loop) procFree(h handle, e *entry[processObj]) {
	l.waiters -= clearWaiters(&l.procWaits, &e.v.waits)
	l.procUnwatch(e)
	windows.CloseHandle(e.v.sys.ph)
	l.procs.release(h, e)
}

func (l *loop) disposeProcs() {
	l.procs.each(func(h handle, e *entry[processObj]) { l.procFree(h, e) })
}

// sysSignal: no signal means anything to processes on Windows.
func (l *loop) sysSignal(os.Signal) {}

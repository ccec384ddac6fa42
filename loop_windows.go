package eventcore

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
)

// The winapi driver: overlapped I/O completed by alertable waits, with the
// owner thread's window messages dispatched by the same wait, as in the
// seed's WinAPI driver.
//
// Why this design. A loop that is also a GUI thread's message loop must
// block in MsgWaitForMultipleObjectsEx, the one wait that returns for
// window messages. An I/O completion port cannot wake that wait (its
// handle is not a documented waitable object), so IOCP would need a second
// thread that waits on the port and hands completions over: a thread hop
// per wake-up. Completion routines need none: an overlapped WSARecv or
// WSASend issued with a completion routine queues that routine as an APC
// to the issuing thread, and MsgWaitForMultipleObjectsEx with
// MWMO_ALERTABLE runs every queued one before it returns. So:
//
//   - Data transfer is overlapped with completion routines: a zero-byte
//     WSARecv (MSG_PEEK for datagrams) that completes when data can be
//     read, and WSASend/WSASendTo for what the socket buffer did not take
//     at once. One routine (completionRoutine, made once with
//     windows.NewCallback for the whole process) serves every operation:
//     its OVERLAPPED is the first field of a winOp, which says what it
//     belongs to. The routine runs no user code; it only queues the winOp
//     on its loop's done list, which sysWait processes after the wait, on
//     the ordinary Go stack. Any number of sockets: nothing is waited on
//     per socket.
//   - AcceptEx and ConnectEx have no completion-routine form. Their
//     OVERLAPPEDs all carry one auto-reset event of the loop (ioEvent);
//     when it fires, the loop looks at the pending accepts and connects
//     (listeners, and connects in progress; a field read each) and reaps
//     those that are done.
//   - A second event wakes the wait for other goroutines (Exit, Trigger,
//     RunInOwnerThread, signals): two handles in all, whatever the number
//     of sockets.
//   - Reads and writes first try the non-blocking recv/send (every socket
//     is in non-blocking mode), which gives IOModeImmediate its exact
//     meaning and completes operations whose data is already there without
//     a round trip through the wait. Waiting for data with a zero-byte
//     receive means no buffer of the caller is ever locked by the kernel,
//     and cancelling a read can never lose data a completed-but-unreaped
//     receive took.
//   - Memory the kernel writes to (OVERLAPPED, flags, addresses) lives in a
//     winOp taken from the loop's pool, and the buffer of a pending send is
//     referenced by its winOp: both stay reachable, and Go heap objects do
//     not move, until the completion is reaped, even when the operation was
//     cancelled or its socket closed meanwhile. Only then does the winOp go
//     back to the pool, so steady-state I/O allocates nothing.
//
// Thread affinity. APCs run on the thread that issued the I/O, and window
// messages belong to a thread, so the loop has a home thread, and the
// goroutines that use it are locked to their OS threads
// (runtime.LockOSThread): New locks the goroutine that calls it, and
// Dispose, called from that goroutine, unlocks it; ProcessEvents, called
// from another goroutine (a loop made by one goroutine and run by another),
// locks that one too and makes its thread the home thread, for good: such
// a goroutine stays locked until it ends. Readiness waits (zero-byte
// receives) started on the old home thread are started again on the new
// one; a send, a file transfer or a directory read already in flight there
// completes when that thread next waits alertably (for instance in a loop
// of its own). Completion routines may therefore run on a thread other
// than the home one: they only push onto a lock-free list and wake the
// loop, so that is safe. The locks nest, so one goroutine may own several
// loops.

func init() { registerBackend("winapi", 10, initWinLoop) }

type sysLoop struct {
	newTid uint32 // the thread New locked, to unlock in Dispose

	home    atomic.Uint32     // the loop's home thread (see "Thread affinity")
	handles [2]windows.Handle // wakeEvent, ioEvent: what the wait watches
	// (pipeEvent is made and closed with them)
	locked bool // New locked the owner's thread

	done    atomic.Pointer[winOp] // completions reaped, not yet taken (LIFO, reversed when taken)
	doneq   *winOp                // completions taken, being processed in order (see "Batches" in loop.go)
	evOps   []*winOp              // accepts and connects in flight: completed through ioEvent
	free    *winOp                // the winOp pool
	allOps  []*winOp              // every winOp made: none is collected while the kernel may write to it
	flying  atomic.Int32          // winOps handed to the kernel and not yet reaped
	bySock  map[windows.Handle]handle
	msgMore bool // the last dispatch left messages in the queue
	idle    int  // waits in a row that did not look at messages

	pipeOv    windows.Overlapped // scratch OVERLAPPED of reads that complete at once
	pipeEvent windows.Handle     // its event

	rsa  rawSockaddr // scratch address for accept, receive, send-to
	peek [1]byte     // scratch buffer of readiness checks
	msg  msg
}

const (
	wakeEvent = 0
	ioEvent   = 1

	// maxMsgBatch bounds the messages one wait dispatches, and msgEvery how
	// many waits may pass, with I/O completing, before the queue is looked
	// at anyway: neither messages nor I/O can starve the other.
	maxMsgBatch = 64
	msgEvery    = 4
)

var wsaInit struct {
	done atomic.Bool
	err  error
}

func initWinLoop(l *loop) error {
	if !wsaInit.done.Load() {
		var d windows.WSAData
		if err := windows.WSAStartup(0x0202, &d); err != nil {
			return err
		}
		wsaInit.done.Store(true)
	}
	for i := range l.handles {
		ev, err := windows.CreateEvent(nil, 0, 0, nil)
		if err != nil {
			l.closeEvents()
			return err
		}
		l.handles[i] = ev
	}
	ev, err := windows.CreateEvent(nil, 1, 0, nil)
	if err != nil {
		l.closeEvents()
		return err
	}
	l.pipeEvent = ev
	runtime.LockOSThread()
	l.locked = true
	l.newTid = windows.GetCurrentThreadId()
	l.home.Store(l.newTid)
	l.bySock = make(map[windows.Handle]handle)
	wake := l.handles[wakeEvent]
	l.xq.wake = func() { windows.SetEvent(wake) }
	return nil
}

func (l *loop) closeEvents() {
	if l.pipeEvent != 0 {
		windows.CloseHandle(l.pipeEvent)
		l.pipeEvent = 0
	}
	for i, h := range l.handles {
		if h != 0 {
			windows.CloseHandle(h)
			l.handles[i] = 0
		}
	}
}

func (l *loop) sysWait(timeout time.Duration) bool {
	if tid := windows.GetCurrentThreadId(); tid != l.home.Load() {
		l.rehome(tid)
	}
	t := l.sleepTimeout(timeout)
	r, err := msgWait(l.handles[:], uint32(waitMillis(t)))
	l.awake()
	got := false
	switch {
	case err != nil:
		// Only bad handles make the wait fail; do not spin on it.
		time.Sleep(time.Millisecond)
	case r == windows.WAIT_OBJECT_0+ioEvent:
		l.reapEventOps()
	case r == windows.WAIT_OBJECT_0+uint32(len(l.handles)):
		l.idle = msgEvery // input is waiting
	}
	got = l.processDone(true) || got
	if l.idle++; l.idle > msgEvery || l.msgMore {
		l.idle = 0
		got = l.pumpMessages() || got
	}
	return l.serviceDeferred(true) || got
}

// sysResume finishes the completions taken (see loop.resume).
func (l *loop) sysResume() bool { return l.processDone(false) }

// sysService services a deferred handle.
func (l *loop) sysService(h handle) { l.serviceAll(h) }

// sysPending: completions reaped and not yet processed, or messages left
// in the queue.
func (l *loop) sysPending() bool { return l.doneq != nil || l.done.Load() != nil || l.msgMore }

// rehome makes the calling goroutine's thread, tid, the loop's home (see
// "Thread affinity" above): ProcessEvents runs on a goroutine other than
// the one that made the loop.
func (l *loop) rehome(tid uint32) {
	runtime.LockOSThread()
	l.home.Store(tid)
	l.fds.each(func(h handle, e *entry[fdObj]) {
		if e.v.sys.rdWait != nil {
			l.orphan(e.v.fd, &e.v.sys.rdWait, true)
			l.deferService(h)
		}
	})
}

// pumpMessages dispatches the thread's window messages, at most
// maxMsgBatch of them; a WM_QUIT makes ProcessEvents return ExitExited.
func (l *loop) pumpMessages() bool {
	l.msgMore = false
	for i := 0; i < maxMsgBatch; i++ {
		if !peekMessage(&l.msg) {
			return i > 0
		}
		if l.msg.message == wmQuit {
			l.exit.set()
			return true
		}
		l.depth++
		dispatchMessage(&l.msg)
		l.depth--
		if l.disposed {
			return true
		}
	}
	l.msgMore = true
	return true
}

func (l *loop) sysDispose() {
	l.disposeObjects()
	l.bySock = nil
	l.doneq = nil
	l.drainOps()
	l.closeEvents()
	if l.locked && windows.GetCurrentThreadId() == l.newTid {
		runtime.UnlockOSThread()
		l.locked = false
	}
}

// ---- overlapped operations ----

type opKind uint8

const (
	opReadWait    opKind = iota // zero-byte receive: completes when data can be read
	opSend                      // WSASend or WSASendTo of what send did not take
	opAccept                    // AcceptEx
	opConnect                   // ConnectEx
	opFileRead                  // ReadFileEx
	opFileWrite                 // WriteFileEx
	opWatch                     // ReadDirectoryChangesW
	opWatchParent               // ReadDirectoryChangesW on a watched directory's parent
)

// winOp is one operation handed to the kernel. ov must stay the first
// field: the completion routine gets its address.
type winOp struct {
	ov     windows.Overlapped
	l      *loop
	h      handle // the socket; 0 once the operation is orphaned
	kind   opKind
	err    uint32 // completion status, a Winsock error code
	n      uint32 // bytes transferred
	flags  uint32 // WSARecv's flags, in and out
	next   *winOp // done list or pool
	wsabuf windows.WSABuf
	keep   []byte                                        // the buffer the kernel may still read
	sock   windows.Handle                                // AcceptEx: the socket that becomes the connection
	to     rawSockaddr                                   // WSASendTo's target, ConnectEx's peer
	abuf   [2 * (unsafe.Sizeof(rawSockaddr{}) + 16)]byte // AcceptEx's addresses
}

// completionRoutine is the completion routine of every overlapped receive
// and send, called by the kernel in an alertable wait of the thread that
// issued the operation: the loop's owner, inside sysWait.
var completionRoutine = windows.NewCallback(func(status, n uintptr, ov *windows.Overlapped, _ uintptr) uintptr {
	op := (*winOp)(unsafe.Pointer(ov))
	op.err, op.n = uint32(status), uint32(n)
	l := op.l
	l.reaped(op)
	if windows.GetCurrentThreadId() != l.home.Load() {
		l.xq.kick() // reaped on another thread: the loop may be asleep
	}
	return 0
})

func (l *loop) newOp(h handle, k opKind) *winOp {
	op := l.free
	if op != nil {
		l.free = op.next
		op.next = nil
	} else {
		op = &winOp{l: l, sock: windows.InvalidHandle}
		l.allOps = append(l.allOps, op)
	}
	op.h, op.kind = h, k
	return op
}

// started records that op was handed to the kernel: it is reaped once,
// whatever happens to its socket.
func (l *loop) started(op *winOp) {
	l.flying.Add(1)
	if op.kind == opAccept || op.kind == opConnect {
		l.evOps = append(l.evOps, op)
	}
}

// reaped queues a completed op for processDone. It may run on a thread
// other than the loop's (see "Thread affinity"), hence the atomics.
func (l *loop) reaped(op *winOp) {
	for {
		head := l.done.Load()
		op.next = head
		if l.done.CompareAndSwap(head, op) {
			break
		}
	}
	l.flying.Add(-1)
}

// putOp returns op to the pool once the kernel is done with it.
func (l *loop) putOp(op *winOp) {
	if op.sock != windows.InvalidHandle {
		windows.Closesocket(op.sock)
	}
	*op = winOp{l: l, sock: windows.InvalidHandle, next: l.free}
	l.free = op
}

// reapEventOps reaps the accepts and connects that have completed: their
// OVERLAPPED's status is no longer STATUS_PENDING (the kernel writes it
// before it sets the event).
func (l *loop) reapEventOps() {
	ops := l.evOps
	j := 0
	for _, op := range ops {
		if atomic.LoadUintptr(&op.ov.Internal) == statusPending {
			ops[j] = op
			j++
			continue
		}
		s := op.sock
		if op.kind == opConnect {
			s = l.opSocket(op)
		}
		var flags uint32
		if err := windows.WSAGetOverlappedResult(s, &op.ov, &op.n, false, &flags); err != nil {
			op.err = uint32(wsaErrno(err))
		}
		l.reaped(op)
	}
	clear(ops[j:])
	l.evOps = ops[:j]
}

// awaitKernel waits until the kernel has completed op, cancelled or not:
// it writes the final status into the OVERLAPPED once it is done with the
// buffer, and queues the completion routine, which the alertable sleep
// runs (so the sleep ends at once when op was issued on this thread). A
// cancelled transfer completes promptly.
func awaitKernel(op *winOp) {
	for atomic.LoadUintptr(&op.ov.Internal) == statusPending {
		windows.SleepEx(1, true)
	}
}

// opSocket returns the socket op was issued on, InvalidHandle if it is
// gone (WSAGetOverlappedResult then still reads the status from ov).
func (l *loop) opSocket(op *winOp) windows.Handle {
	if e := l.fdEntry(op.h); e != nil {
		return windows.Handle(e.v.fd)
	}
	return windows.InvalidHandle
}

// processDone runs what the completed operations lead to: the rest of
// those taken, then, if more is true, those reaped since. It reports
// whether any of them still belonged to a live operation.
func (l *loop) processDone(more bool) bool {
	got := false
	for !l.disposed {
		op := l.doneq
		if op == nil {
			if !more || l.done.Load() == nil {
				break
			}
			// The list is LIFO: reverse it to handle completions in order.
			for op := l.done.Swap(nil); op != nil; {
				next := op.next
				op.next = l.doneq
				l.doneq = op
				op = next
			}
			continue
		}
		l.doneq = op.next
		op.next = nil
		h := op.h
		l.servicing = h
		if l.finishOp(op) {
			got = true
		}
		l.serviced(h)
	}
	return got
}

// drainOps waits, after every socket was closed (which cancels their
// operations), until the kernel is done with every winOp: it must not
// write into memory the loop no longer holds. It gives up after a while;
// then the remaining winOps stay referenced for the life of the process.
func (l *loop) drainOps() {
	deadline := time.Now().Add(5 * time.Second)
	for l.flying.Load() > 0 && time.Now().Before(deadline) && windows.GetCurrentThreadId() == l.home.Load() {
		windows.SleepEx(10, true) // runs the completion routines
		l.reapEventOps()
		for op := l.done.Swap(nil); op != nil; {
			next := op.next
			l.putOp(op)
			op = next
		}
	}
	if l.flying.Load() > 0 {
		stranded.Lock()
		stranded.loops = append(stranded.loops, l)
		stranded.Unlock()
	}
}

// stranded keeps the loops whose Dispose could not wait for every
// operation to end, and so their winOps.
var stranded struct {
	sync.Mutex
	loops []*loop
}

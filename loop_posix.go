//go:build unix

package eventcore

import (
	"time"

	"golang.org/x/sys/unix"
)

// sysLoop is the readiness-driver part of a loop, shared by every poller.
type sysLoop struct {
	p    poller
	lt   bool     // level-triggered poller: watched directions follow pending operations
	byFD []handle // descriptor number → handle, to refuse adopting an fd twice

	ready []readyEvent
	// deferred holds handles whose pending operations are serviced from the
	// loop instead of synchronously (see maxSyncDepth), or that must be
	// looked at without waiting for readiness.
	deferred, deferredSpare []handle

	rsa rawSockaddr // scratch address for accept and receive
}

func (l *loop) initPosix(p poller) {
	l.p = p
	l.lt = !p.edgeTriggered()
	l.xq.wake = p.wake
}

func (l *loop) sysWait(timeout time.Duration) bool {
	t := l.sleepTimeout(timeout)
	evs, _ := l.p.wait(l.ready[:0], t)
	l.awake()
	l.ready = evs
	for i := range evs {
		l.onReady(evs[i].h, evs[i].ev)
	}
	got := len(evs) > 0
	if len(l.deferred) > 0 {
		got = true
		batch := l.deferred
		l.deferred = l.deferredSpare[:0]
		for _, h := range batch {
			l.onReady(h, evRead|evWrite)
		}
		l.deferredSpare = batch[:0]
	}
	return got
}

func (l *loop) sysPending() bool { return len(l.deferred) > 0 }

func (l *loop) deferService(h handle) { l.deferred = append(l.deferred, h) }

func (l *loop) sysDispose() {
	l.fds.each(func(h handle, e *entry[fdObj]) { l.closeFD(h, e) })
	l.fds = table[fdObj]{}
	l.byFD = nil
	l.deferred = nil
	l.p.close()
}

// newFD registers fd with the poller under a new handle of kind k.
func (l *loop) newFD(k kind, fd int, flags fdFlags) (handle, *entry[fdObj], error) {
	h, e := l.fds.alloc(k)
	if e == nil {
		return 0, nil, ErrTooManyHandles
	}
	e.v.fd = int32(fd)
	e.v.flags = flags
	if err := l.p.add(fd, h); err != nil {
		l.fds.release(h, e)
		return 0, nil, err
	}
	for fd >= len(l.byFD) {
		l.byFD = append(l.byFD, 0)
	}
	l.byFD[fd] = h
	return h, e, nil
}

func (l *loop) fdRegistered(fd int) bool { return fd < len(l.byFD) && l.byFD[fd] != 0 }

// closeSysFD closes the descriptor of e, leaving the entry.
func (l *loop) closeSysFD(e *entry[fdObj]) {
	fd := int(e.v.fd)
	if fd < 0 {
		return
	}
	l.p.del(fd)
	if fd < len(l.byFD) {
		l.byFD[fd] = 0
	}
	unix.Close(fd)
	e.v.fd = -1
	e.v.sys.interest = 0
}

// closeFD frees the entry and its descriptor; pending operations are
// dropped without their callbacks.
func (l *loop) closeFD(h handle, e *entry[fdObj]) {
	if e.v.rd.active {
		l.waiters--
	}
	if e.v.wr.active {
		l.waiters--
	}
	l.closeSysFD(e)
	if x := e.v.ext; x != nil && x.unlink != "" {
		unix.Unlink(x.unlink)
	}
	l.fds.release(h, e)
}

// syncInterest tells a level-triggered poller which directions of h have
// pending operations.
func (l *loop) syncInterest(h handle) {
	if !l.lt {
		return
	}
	e := l.fdEntry(h)
	if e == nil || e.v.fd < 0 {
		return
	}
	var want readyBits
	if e.v.rd.active {
		want |= evRead
	}
	if e.v.wr.active {
		want |= evWrite
	}
	if want != e.v.sys.interest {
		if err := l.p.modify(int(e.v.fd), h, want); err == nil {
			e.v.sys.interest = want
		} else {
			e.err = err
		}
	}
}

// onReady services the pending operations of h after the poller reported
// it, or when it was deferred.
func (l *loop) onReady(h handle, ev readyBits) {
	e := l.fdEntry(h)
	if e == nil {
		return
	}
	if ev&(evRead|evError) != 0 && e.v.rd.active {
		l.serviceRead(h, e)
		if e = l.fdEntry(h); e == nil {
			return
		}
	}
	if ev&(evWrite|evError) != 0 && e.v.wr.active {
		l.serviceWrite(h, e)
	}
	l.syncInterest(h)
}

// readable reports whether a read on e would not block (data, end of
// stream, or an error to collect), without reading.
func (l *loop) readable(e *entry[fdObj]) (bool, error) {
	pfd := [1]unix.PollFd{{Fd: e.v.fd, Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(pfd[:], 0)
		if err == unix.EINTR {
			continue
		}
		return n > 0, err
	}
}

// The hooks of the shared I/O state machines (sockets_io.go). A poller
// reports readiness by itself, so there is nothing to start when an
// operation would block, and nothing of the kernel's to cancel.

func (l *loop) awaitRead(handle, *entry[fdObj])        {}
func (l *loop) awaitWrite(handle, *entry[fdObj], Addr) {}
func (l *loop) writeInFlight(*entry[fdObj]) bool       { return false }
func (l *loop) cancelSys(*entry[fdObj], bool)          {}

var (
	errWouldBlock error = unix.EAGAIN
	errNotConn    error = unix.ENOTCONN
)

// isDisconnect tells the errors that end a connection.
func isDisconnect(err error) bool {
	switch err {
	case unix.ECONNRESET, unix.EPIPE, unix.ENOTCONN, unix.ETIMEDOUT, unix.ECONNABORTED,
		unix.ENETRESET, unix.EHOSTUNREACH, unix.ENETUNREACH:
		return true
	}
	return false
}

func sysShutdown(fd sysFD, read, write bool) error {
	how := unix.SHUT_RDWR
	switch {
	case read && !write:
		how = unix.SHUT_RD
	case write && !read:
		how = unix.SHUT_WR
	}
	if err := unix.Shutdown(int(fd), how); err != nil && err != unix.ENOTCONN {
		return err
	}
	return nil
}

// sysFD is a descriptor; fdSys is the readiness drivers' part of a socket.
type sysFD = int32

const invalidFD sysFD = -1

type fdSys struct {
	interest readyBits // what a level-triggered poller watches
}

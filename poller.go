//go:build unix

package eventcore

import (
	"time"

	"golang.org/x/sys/unix"
)

// poller is all that differs between the readiness drivers (epoll, poll,
// kqueue): the shared POSIX code (loop_posix.go, sockets_posix.go) does the
// non-blocking system calls, and asks the poller only to tell it when a
// descriptor may have become ready.
//
// An edge-triggered poller (epoll with EPOLLET, kqueue with EV_CLEAR) is told
// about a descriptor once, for both directions, and reports each change; a
// level-triggered one (poll) must be told what to watch as operations start
// and end (modify), or it would report a writable socket forever.
type poller interface {
	// add starts watching fd; h is what wait reports for it.
	add(fd int, h handle) error
	// modify sets the directions a level-triggered poller watches; an
	// edge-triggered poller ignores it.
	modify(fd int, h handle, want readyBits) error
	// del stops watching fd; it is called before fd is closed.
	del(fd int)
	// wait blocks for up to timeout (0: do not block; Infinite: no limit)
	// and appends what became ready to evs. A wake-up consumed by wait is
	// not reported. hold asks for a wait that keeps the thread's P (see
	// "Holding" in loop_posix.go); only a poller whose canHold reports
	// true is asked.
	wait(evs []readyEvent, timeout time.Duration, hold bool) ([]readyEvent, error)
	// canHold reports whether wait can hold.
	canHold() bool
	// wake makes a blocked wait return. It is safe from any goroutine.
	wake()
	edgeTriggered() bool
	close()
}

// threadBound is implemented by pollers whose waits must all come from
// one thread, to which they lock the loop's goroutine (io_uring).
type threadBound interface{ threadBound() }

// statePoller is implemented by pollers that tell the loop enough to skip
// system calls whose result it knows (fdio_posix.go).
type statePoller interface {
	// reportsCurrentState: events describe each descriptor as it was when
	// wait returned, not when it became ready (epoll polls every ready
	// descriptor again before reporting it; poll(2) reports the state it
	// found). The loop then takes evRead as "a read would not block" and
	// completes a zero-length read without asking again.
	reportsCurrentState() bool
	// reportsUrgent: evUrgent comes with the readiness event that
	// delivers TCP urgent data, and evEnd or evError with the one that
	// delivers the end of the stream or an error. A TCP read stops short
	// at the urgent mark or at the end, with more left to read (the data
	// behind the mark; the end or the error itself) and no event to come,
	// so the loop takes a short read for an empty socket only where it
	// can tell those cases apart.
	reportsUrgent() bool
}

// procWatcher is implemented by a poller that reports process exits itself
// (kqueue's EVFILT_PROC). The loop then watches a process through it
// rather than through SIGCHLD, which only children raise; which mechanism
// a loop uses follows from its poller, see procWatch.
type procWatcher interface {
	// watchExit makes wait report h, as readable, once process pid has
	// exited. It fails with ESRCH if pid is not running, which for kqueue
	// includes a child that has exited and not been reaped yet.
	watchExit(pid int, h handle) error
	// unwatchExit forgets h's watch of pid, whether or not it was
	// reported.
	unwatchExit(pid int, h handle)
}

// vnodeWatcher is implemented by a poller that reports changes to a file or
// a directory (kqueue's EVFILT_VNODE): directory watchers then learn of
// changes from it instead of scanning on a timer (watchers_scan.go).
type vnodeWatcher interface {
	// watchVnode opens path, not following a final symbolic link, and
	// makes wait report h, as readable, whenever what it names changes:
	// its data, attributes or links, a directory's entries, or its being
	// deleted or renamed. The descriptor it returns is for unwatchVnode.
	watchVnode(path string, h handle) (int, error)
	// unwatchVnode stops watching and closes fd.
	unwatchVnode(fd int)
}

type readyBits uint8

const (
	evRead readyBits = 1 << iota // data or the end of the stream can be read
	evWrite
	evError  // hang-up or error: both directions should look
	evUrgent // TCP urgent data is pending (EPOLLPRI)
	evEnd    // the peer ended its side (EPOLLRDHUP); comes with evRead
)

type readyEvent struct {
	h  handle
	ev readyBits
}

// registerPoller makes a readiness driver available to New.
func registerPoller(name string, prio int, newPoller func() (poller, error)) {
	registerBackend(name, prio, func(l *loop) error {
		p, err := newPoller()
		if err != nil {
			return err
		}
		l.initPosix(p)
		return nil
	})
}

// notEINTR is err, except that a wait interrupted by a signal is no error:
// the loop just comes back.
func notEINTR(err error) error {
	if err == unix.EINTR {
		return nil
	}
	return err
}

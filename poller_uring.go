//go:build linux

package eventcore

import (
	"fmt"
	"runtime"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The io_uring driver, as a readiness poller: every descriptor is watched
// by one multishot IORING_OP_POLL_ADD, which the kernel runs edge-triggered
// (a completion per wake-up of the descriptor, with the poll mask it found
// then; no IORING_POLL_ADD_LEVEL), so starting and finishing operations
// costs nothing, as with epoll. Registrations are queued in the submission
// ring and submitted by the wait's io_uring_enter, which also waits for
// completions: one system call per loop iteration. Completions are reaped
// in bulk and their slots freed with one store.
//
// One thread. The ring is set up with DEFER_TASKRUN: a completion's last
// step runs only inside an io_uring_enter that asks for events, made by
// the ring's one submitter thread (SINGLE_ISSUER). So completions appear
// when the loop waits, never behind its back, and removing a poll in del
// drops the kernel's reference to the file before del returns: closing
// the descriptor then closes the socket. (Without DEFER_TASKRUN, that step
// runs on whichever thread submitted the request, which with goroutines
// moving between threads may be another, later: a closed socket would
// linger open, and readiness would come in after a wait that found none.)
// The goroutine that first uses the ring is therefore locked to its
// thread (runtime.LockOSThread) for good, and sleeps in io_uring_enter
// rather than in the runtime's poller. If another goroutine takes the
// loop over, the kernel refuses its enter (EEXIST), and the poller moves
// to a new ring made by that goroutine's thread, polls re-armed (arming
// reports what is ready already, so no edge is lost). The old ring is
// closed then, and the kernel frees its requests in the background: until
// it has, a descriptor registered before the handover and closed after it
// stays open (its peer sees the end a moment later).
//
// Wake-ups from other goroutines go through an eventfd the ring polls.
//
// Beside the polls, the poller runs operations of its own through the ring
// (poller_uring_ops.go): stream writes that may wait, from their start
// (poller_uring_send.go); receives for loaned reads
// (poller_uring_recv.go); file steps (poller_uring_files.go). Those in
// flight on a ring left by a handover never complete there: they fail.

func init() {
	registerPoller("iouring", 30, newUringPoller)
	for i := range backends {
		if backends[i].name == "iouring" {
			backends[i].usable = func() bool { return uringProbe() == nil }
		}
	}
}

// uringProbe sets up, once, a ring of the smallest size, to learn whether
// the system allows io_uring here and offers what the driver needs.
var uringProbe = sync.OnceValue(func() error {
	r, err := newUring(1, 2)
	if err != nil {
		return err
	}
	r.close()
	return nil
})

// Sizes of the ring. Completions that find the CQ ring full wait in the
// kernel's overflow list (IORING_FEAT_NODROP), and the wait flushes them.
const (
	uringSQEntries = 256
	uringCQEntries = 4096
)

// user_data of the driver's own requests; a registration's is
// gen<<32 | fd+1, gen below 1<<uringGenBits; an operation's see
// uringDataOp, a receive's uringDataRecv. The wake-up's tag alone names
// its poll; with a registration's, the cancel of that registration's poll.
const (
	uringDataIgnore    = 0       // removals: their completions say nothing
	uringDataWake      = 1 << 63 // the wake-up eventfd's poll
	uringDataDelCancel = 1 << 63 // | a registration's: del's cancel of its poll
	uringGenBits       = 29      // below the tags' bits, 61 to 63
)

// POLLERR and POLLHUP too: a completion reports only the events asked for.
const uringPollMask = unix.POLLIN | unix.POLLOUT | unix.POLLRDHUP | unix.POLLPRI | unix.POLLERR | unix.POLLHUP

type uringPoller struct {
	r      *uring
	bound  bool // the ring is enabled, by the thread locked to it
	moving bool // rebind takes the completions of the ring it leaves
	wfd    wakeFD

	regs fdMap[uringReg] // watched descriptors

	ops     table[uringOp] // operations in flight (poller_uring_ops.go)
	rx      *uringRecv     // receives into the buffer ring (poller_uring_recv.go), nil until used
	retired [][]byte       // buffers of operations a left ring may still use
	late    []readyEvent   // operations ended by a rebind, to report

	filesTried bool   // the ring's file table was registered, or refused
	ending     uint64 // del: the poll whose last completion it waits for

	ts  unix.Timespec
	arg uringGetEventsArg
	err error // what the last wait met
}

// uringReg is a descriptor's registration: h is 0 while it has none, and
// gen tells its completions from those of an earlier registration of the
// same descriptor number.
type uringReg struct {
	h    handle
	gen  uint32
	mask uint16 // what the poll watches
	file uint8  // its slot in the ring's file table (poller_uring_fixed.go)
}

func newUringPoller() (poller, error) {
	r, err := newUring(uringSQEntries, uringCQEntries)
	if err != nil {
		return nil, fmt.Errorf("eventcore: io_uring unavailable: %w", err)
	}
	p := &uringPoller{r: r}
	if p.wfd, err = newWakeFD(); err != nil {
		r.close()
		return nil, err
	}
	p.pollAdd(int32(p.wfd.r), uringDataWake, unix.POLLIN)
	return p, nil
}

// bind makes the calling goroutine's thread the ring's submitter, once.
func (p *uringPoller) bind() error {
	if p.bound {
		return nil
	}
	runtime.LockOSThread()
	if err := p.r.enable(); err != nil {
		return err
	}
	p.bound = true
	return nil
}

// rebind moves to a new ring that the calling goroutine's thread submits
// to, after the old one refused it.
func (p *uringPoller) rebind() error {
	r, err := newUring(uringSQEntries, uringCQEntries)
	if err != nil {
		return err
	}
	p.moving = true
	p.late = p.collect(p.late) // what the left ring posted
	p.moving = false
	p.queuedOps(p.r)
	p.r.close()
	p.r, p.bound = r, false
	if err := p.bind(); err != nil {
		return err
	}
	p.pollAdd(int32(p.wfd.r), uringDataWake, unix.POLLIN)
	p.filesTried = false
	p.regs.each(func(fd int, reg *uringReg) {
		reg.file = fileNone // the new ring's file table is empty
		if reg.h != 0 {
			p.pollAdd(int32(fd), reg.data(fd), uint32(reg.mask))
		}
	})
	p.moveOps()
	p.recvMoved()
	return nil
}

// enter is uring.enter from the ring's thread. A move to a new ring
// (rebind) leaves what it ended to report, in late: the enter on the new
// ring then waits for nothing.
func (p *uringPoller) enter(flags uintptr, minComplete uint32, arg *uringGetEventsArg, blocking bool) error {
	if err := p.bind(); err != nil {
		return err
	}
	_, err := p.r.enter(flags, minComplete, arg, blocking)
	if err == unix.EEXIST {
		if err = p.rebind(); err == nil {
			if len(p.late) > 0 {
				minComplete = 0
			}
			_, err = p.r.enter(flags, minComplete, arg, blocking)
		}
	}
	return err
}

// sqe returns an entry to fill, submitting the full queue first if need
// be; nil if that failed. Taking the completions of a ring left behind
// (moving), it submits nothing: that ring's queue is dropped, and what the
// completions would queue there (polls armed again) the move does anew.
func (p *uringPoller) sqe() *uringSQE {
	e := p.r.sqe()
	if e == nil && !p.moving {
		if p.err = p.enter(0, 0, nil, false); p.err == nil {
			e = p.r.sqe()
		}
	}
	return e
}

// pollAdd queues a multishot poll of fd for the events in mask. (The
// wake-up eventfd's is for POLLIN only: reading the eventfd wakes its
// pollers for POLLOUT, and each drain would make another completion.)
func (p *uringPoller) pollAdd(fd int32, data uint64, mask uint32) bool {
	e := p.sqe()
	if e == nil {
		return false
	}
	e.opcode = uringOpPollAdd
	e.fd = fd
	e.len = uringPollAddMulti
	e.opFlags = mask
	e.userData = data
	return true
}

func (r *uringReg) data(fd int) uint64 { return uint64(r.gen)<<32 | uint64(fd+1) }

// release ends the registration; its completions still to come then name
// an older generation.
func (r *uringReg) release() {
	r.h, r.file = 0, fileNone
	r.gen = (r.gen + 1) & (1<<uringGenBits - 1)
}

// reg returns the live registration that user data data names, nil if
// none.
func (p *uringPoller) reg(data uint64) (int32, *uringReg) {
	fd := int32(uint32(data)) - 1
	reg := p.regs.ptr(int(fd))
	if reg == nil || reg.h == 0 || reg.gen != uint32(data>>32) {
		return fd, nil
	}
	return fd, reg
}

func (p *uringPoller) add(fd int, h handle) error {
	if fd < 0 || int(int32(fd)) != fd || fd == 1<<31-1 {
		return unix.EBADF
	}
	// The registration is made once its poll is queued: should taking the
	// entry move the poller to a new ring (rebind), which polls every
	// registered descriptor, fd would be polled there twice, and del
	// would cancel one of the two.
	reg := p.regs.at(fd)
	if !p.pollAdd(int32(fd), reg.data(fd), uringPollMask) {
		return p.err
	}
	reg.h, reg.mask = h, uringPollMask
	return nil
}

func (p *uringPoller) modify(int, handle, readyBits) error { return nil }

// del cancels fd's poll, and waits for the poll's last completion:
// until the kernel frees the request, it holds the file, and closing fd
// would not close a socket (its peer would not see the end). An
// IORING_OP_POLL_REMOVE would not do: it gives up (EALREADY) on a poll
// whose completion is under way, and leaves it armed. The cancel itself
// completes at once, the poll's end in its task work, which an enter runs
// only so much of (20 items a pass, two passes, since Linux 6.12): behind
// the wake-ups of many other descriptors it may take several. fd's slot in
// the file table, which holds the file too, is emptied in the first one.
// The registration ends before it: should the enter move the poller to a
// new ring (rebind), fd is not polled there, and the left ring's requests,
// the cancel among them, go with that ring.
func (p *uringPoller) del(fd int) {
	reg := p.regs.ptr(fd)
	if reg == nil || reg.h == 0 {
		return
	}
	data := reg.data(fd)
	queued := p.queueCancel(data, uringDataDelCancel|data)
	if queued {
		p.emptySlot(fd, reg)
	}
	reg.release()
	if !queued {
		return
	}
	r := p.r
	p.ending = data
	err := p.enter(uringEnterGetEvents, 0, nil, false)
	for err == nil && p.r == r && p.ending != 0 && !p.pollEnded(data) {
		if p.r.full() {
			p.late = p.collect(p.late) // room for the rest; it may see the end
			continue
		}
		err = p.awaitMore()
	}
	p.ending = 0
}

// pollEnded reports whether the completions waiting in the ring include
// the last one of the poll whose user data is data, or the result of del's
// cancel of it saying that there was no poll to end.
func (p *uringPoller) pollEnded(data uint64) bool {
	head, tail := p.r.completions()
	for ; head != tail; head++ {
		switch c := p.r.cqe(head); c.userData {
		case data:
			if c.flags&uringCQEFMore == 0 {
				return true
			}
		case uringDataDelCancel | data:
			if c.res < 0 && c.res != -int32(unix.EALREADY) {
				return true
			}
		}
	}
	return false
}

func (p *uringPoller) wait(evs []readyEvent, timeout time.Duration, hold bool) ([]readyEvent, error) {
	p.err = nil
	var err error
	watching := p.recvWatching() // a stuck receive may be among them: no sleep
	switch {
	case timeout > 0 && !p.r.ready() && !watching && len(p.late) == 0:
		// (Completions taken early, into late, are events to report now.)
		p.arg.ts = 0
		if timeout != Infinite {
			uringTimeout(&p.ts, timeout)
			p.arg.ts = uint64(uintptr(unsafe.Pointer(&p.ts)))
		}
		// Holding keeps the P (see "Holding" in loop_posix.go); a longer
		// sleep lets the scheduler hand it on.
		err = p.enter(uringEnterGetEvents, 1, &p.arg, !hold)
	case p.r.unsubmitted > 0 || p.r.due() || !p.bound || watching:
		err = p.enter(uringEnterGetEvents, 0, nil, false)
	}
	switch err {
	case nil, unix.ETIME, unix.EINTR, unix.EBUSY:
	default:
		return evs, err
	}
	evs = p.reap(evs)
	if p.recvWatching() {
		p.recvUnstick()
	}
	return evs, nil
}

// reap turns the waiting completions into events, after those taken
// earlier (late).
func (p *uringPoller) reap(evs []readyEvent) []readyEvent {
	if len(p.late) > 0 {
		evs = append(evs, p.late...)
		p.late = p.late[:0]
	}
	return p.collect(evs)
}

// collect turns the completions in the ring into events.
func (p *uringPoller) collect(evs []readyEvent) []readyEvent {
	head, tail := p.r.completions()
	for ; head != tail; head++ {
		c := p.r.cqe(head)
		switch {
		case c.userData == uringDataIgnore:
			continue
		case c.userData == uringDataWake:
			p.wfd.drain()
			if c.flags&uringCQEFMore == 0 {
				p.pollAdd(int32(p.wfd.r), uringDataWake, unix.POLLIN)
			}
			continue
		case c.userData&uringDataDelCancel != 0:
			if c.userData&^uringDataDelCancel == p.ending && c.res < 0 && c.res != -int32(unix.EALREADY) {
				p.ending = 0 // no poll to end (ENOENT)
			}
			continue
		case c.userData&uringDataOp != 0:
			evs = p.completeOp(evs, c)
			continue
		case c.userData&uringDataRecv != 0:
			evs = p.recvCQE(evs, c)
			continue
		}
		fd, reg := p.reg(c.userData)
		if reg == nil { // a registration since removed
			if c.userData == p.ending && c.flags&uringCQEFMore == 0 {
				p.ending = 0
			}
			continue
		}
		if c.flags&uringCQEFMore == 0 {
			// The kernel ended the poll (a full completion ring, no
			// memory): watch again; arming it reports what is ready.
			p.pollAdd(fd, c.userData, uint32(reg.mask))
		}
		if c.res <= 0 {
			continue
		}
		m := uint32(c.res)
		var r readyBits
		if m&(unix.POLLIN|unix.POLLRDHUP) != 0 {
			r |= evRead
		}
		if m&unix.POLLRDHUP != 0 {
			r |= evEnd
		}
		if m&unix.POLLPRI != 0 {
			r |= evUrgent
		}
		if m&unix.POLLOUT != 0 {
			r |= evWrite
		}
		if m&(unix.POLLERR|unix.POLLHUP) != 0 {
			r |= evError
		}
		evs = append(evs, readyEvent{h: reg.h, ev: r})
	}
	p.r.done(tail)
	return evs
}

// wake signals the eventfd the ring polls.
func (p *uringPoller) wake() { p.wfd.signal() }

func (p *uringPoller) canHold() bool { return true }

func (p *uringPoller) threadBound() {}

func (p *uringPoller) edgeTriggered() bool { return true }

// reportsCurrentState: no. A completion carries the mask the kernel found
// when it ran the poll's task work, which may be before a read the loop
// made since; only the wait's return is known to come after it.
func (p *uringPoller) reportsCurrentState() bool { return false }

// reportsUrgent: descriptors are polled for POLLPRI and POLLRDHUP.
func (p *uringPoller) reportsUrgent() bool { return true }

func (p *uringPoller) close() {
	p.recvClose()
	p.wfd.close()
	p.r.close()
}

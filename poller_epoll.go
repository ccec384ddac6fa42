//go:build linux

package eventcore

import (
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The epoll driver: every descriptor is registered once, edge-triggered, for
// both directions, so starting and finishing operations costs no epoll_ctl.
// The handle travels in the event's 64-bit data; 0 is the wake-up eventfd.
//
// A wait first collects what is ready without blocking. Only when nothing
// is does the loop's goroutine sleep, in the Go runtime's poller, where the
// epoll descriptor is registered like a socket (park_runtime.go); another
// goroutine wakes it there without a system call. The eventfd serves only
// where the runtime refused the descriptor.

func init() { registerPoller("epoll", 10, newEpoller) }

type epoller struct {
	epfd int
	wfd  wakeFD
	evs  []unix.EpollEvent

	park    runtimePark
	holding atomic.Bool // a wait holds (see wake)
	n       int         // what collectReady found
	err     error       // and the error it met
}

func newEpoller() (poller, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	p := &epoller{epfd: epfd, evs: make([]unix.EpollEvent, 256)}
	if p.wfd, err = newWakeFD(); err != nil {
		unix.Close(epfd)
		return nil, err
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, p.wfd.r, &ev); err != nil {
		p.wfd.close()
		unix.Close(epfd)
		return nil, err
	}
	// O_NONBLOCK makes os.NewFile register the descriptor with the runtime's
	// poller (it does not change what epoll_wait does).
	if unix.SetNonblock(epfd, true) == nil {
		p.park.open(epfd, "epoll", p.collectReady)
	}
	return p, nil
}

func (p *epoller) add(fd int, h handle) error {
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDHUP | unix.EPOLLPRI | unix.EPOLLET}
	ev.Fd, ev.Pad = int32(uint32(h)), int32(uint32(h>>32))
	return unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, fd, &ev)
}

func (p *epoller) modify(int, handle, readyBits) error { return nil }

func (p *epoller) del(fd int) {
	// Closing fd would not remove it while a duplicate of it lives on.
	unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, fd, nil)
}

// collectReady is an epoll_wait that does not block, made without entering
// the scheduler (see sys_direct.go). It reports whether it found anything.
func (p *epoller) collectReady(fd uintptr) bool {
	r, _, errno := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, fd, uintptr(unsafe.Pointer(&p.evs[0])), uintptr(len(p.evs)), 0, 0, 0)
	switch errno {
	case 0:
		p.n = int(r)
		return r > 0
	case unix.EINTR:
		p.n = 0
		return false
	}
	p.n, p.err = 0, errno
	return true
}

func (p *epoller) wait(evs []readyEvent, timeout time.Duration, hold bool) ([]readyEvent, error) {
	p.n, p.err = 0, nil
	switch {
	case hold:
		// A kick, which would not end this wait, makes wake signal the
		// eventfd while holding is set; one that came before is seen here.
		p.holding.Store(true)
		if !p.park.takeKick() {
			r, _, errno := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(p.epfd), uintptr(unsafe.Pointer(&p.evs[0])), uintptr(len(p.evs)), uintptr(waitMillis(timeout)), 0, 0)
			if errno == 0 {
				p.n = int(r)
			} else if errno != unix.EINTR {
				p.err = errno
			}
		}
		p.holding.Store(false)
	case timeout > 0 && p.park.parks():
		if err := p.park.park(timeout); err != nil {
			return evs, err
		}
	case timeout > 0:
		n, err := unix.EpollWait(p.epfd, p.evs, waitMillis(timeout))
		if err != nil {
			return evs, notEINTR(err)
		}
		p.n = n
	default:
		p.collectReady(uintptr(p.epfd))
	}
	if p.err != nil {
		return evs, p.err
	}
	for i := range p.evs[:p.n] {
		e := &p.evs[i]
		h := handle(uint64(uint32(e.Fd)) | uint64(uint32(e.Pad))<<32)
		if h == 0 {
			p.wfd.drain()
			continue
		}
		var r readyBits
		if e.Events&(unix.EPOLLIN|unix.EPOLLRDHUP) != 0 {
			r |= evRead
		}
		if e.Events&unix.EPOLLRDHUP != 0 {
			r |= evEnd
		}
		if e.Events&unix.EPOLLPRI != 0 {
			r |= evUrgent
		}
		if e.Events&unix.EPOLLOUT != 0 {
			r |= evWrite
		}
		if e.Events&(unix.EPOLLERR|unix.EPOLLHUP) != 0 {
			r |= evError
		}
		evs = append(evs, readyEvent{h: h, ev: r})
	}
	return evs, nil
}

// wake kicks the parked loop; the eventfd serves where it does not park,
// and while it holds (see "Holding" in loop_posix.go). The kick goes first:
// a wait about to hold either sees it or is seen holding.
func (p *epoller) wake() {
	if p.park.parks() {
		p.park.kick()
		if !p.holding.Load() {
			return
		}
	}
	p.wfd.signal()
}

func (p *epoller) canHold() bool { return true }

func (p *epoller) edgeTriggered() bool { return true }

// reportsCurrentState: epoll polls each ready descriptor again before
// reporting it (ep_send_events), so an event says what holds at return.
func (p *epoller) reportsCurrentState() bool { return true }

// reportsUrgent: descriptors are registered for EPOLLPRI.
func (p *epoller) reportsUrgent() bool { return true }

func (p *epoller) close() {
	p.wfd.close()
	if p.park.file != nil {
		p.park.close()
		return
	}
	unix.Close(p.epfd)
}

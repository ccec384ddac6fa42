//go:build linux

package eventcore

import (
	"errors"
	"os"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The epoll driver: every descriptor is registered once, edge-triggered, for
// both directions, so starting and finishing operations costs no epoll_ctl.
// The handle travels in the event's 64-bit data; 0 is the wake-up eventfd.
//
// A wait first collects what is ready without blocking. Only when nothing
// is does the loop's goroutine block, and it does so in the Go runtime's own
// poller, where the epoll descriptor is registered like a socket: the
// goroutine parks, its P stays free for other goroutines, and the thread
// sleeps in the runtime's epoll_wait. Blocking in a plain epoll_wait system
// call instead makes sysmon take the P away from the blocked thread after
// 20 µs and wake every 20 µs meanwhile, which on a busy server costs more
// than the extra epoll_wait of this scheme.

func init() { registerPoller("epoll", 10, newEpoller) }

type epoller struct {
	epfd int
	wfd  wakeFD
	evs  []unix.EpollEvent

	file     *os.File        // epfd in the runtime's poller; nil if it refused
	conn     syscall.RawConn // of file
	deadline bool            // whether file has a read deadline set
	until    time.Time       // and which
	collect  func(uintptr) bool
	n        int   // what collect found
	err      error // and the error it met
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
	p.collect = p.collectReady
	// O_NONBLOCK makes os.NewFile register the descriptor with the runtime's
	// poller (it does not change what epoll_wait does).
	if unix.SetNonblock(epfd, true) == nil {
		p.file = os.NewFile(uintptr(epfd), "epoll")
		if c, err := p.file.SyscallConn(); err == nil && p.file.SetReadDeadline(time.Time{}) == nil {
			p.conn = c
		}
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

func (p *epoller) wait(evs []readyEvent, timeout time.Duration) ([]readyEvent, error) {
	p.err = nil
	switch {
	case timeout > 0 && p.conn != nil:
		// The runtime's poller collects at once, and parks only if
		// nothing is ready.
		if err := p.block(timeout); err != nil {
			return evs, err
		}
	case !p.collect(uintptr(p.epfd)) && timeout > 0:
		n, err := unix.EpollWait(p.epfd, p.evs, waitMillis(timeout))
		if err != nil {
			return evs, notEINTR(err)
		}
		p.n = n
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

// block waits up to timeout for something to be ready, and collects it.
// The read deadline is moved only when it must come sooner: waking at an
// earlier deadline than needed only makes the loop wait again.
func (p *epoller) block(timeout time.Duration) error {
	if timeout < time.Duration(1<<62) {
		now := time.Now()
		if dl := now.Add(timeout); !p.deadline || dl.Before(p.until) || !now.Before(p.until) {
			p.file.SetReadDeadline(dl)
			p.deadline, p.until = true, dl
		}
	} else if p.deadline {
		p.file.SetReadDeadline(time.Time{})
		p.deadline = false
	}
	p.n = 0
	err := p.conn.Read(p.collect)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return nil
	}
	return err
}

func (p *epoller) wake()               { p.wfd.signal() }
func (p *epoller) edgeTriggered() bool { return true }

// reportsCurrentState: epoll polls each ready descriptor again before
// reporting it (ep_send_events), so an event says what holds at return.
func (p *epoller) reportsCurrentState() bool { return true }

// reportsUrgent: descriptors are registered for EPOLLPRI.
func (p *epoller) reportsUrgent() bool { return true }

func (p *epoller) close() {
	p.wfd.close()
	if p.file != nil {
		p.file.Close()
		return
	}
	unix.Close(p.epfd)
}

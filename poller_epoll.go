//go:build linux

package eventcore

import (
	"time"

	"golang.org/x/sys/unix"
)

// The epoll driver: every descriptor is registered once, edge-triggered, for
// both directions, so starting and finishing operations costs no epoll_ctl.
// The handle travels in the event's 64-bit data; 0 is the wake-up eventfd.

func init() { registerPoller("epoll", 10, newEpoller) }

type epoller struct {
	epfd int
	wfd  wakeFD
	evs  []unix.EpollEvent
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
	return p, nil
}

func (p *epoller) add(fd int, h handle) error {
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDHUP | unix.EPOLLET}
	ev.Fd, ev.Pad = int32(uint32(h)), int32(uint32(h>>32))
	return unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, fd, &ev)
}

func (p *epoller) modify(int, handle, readyBits) error { return nil }

func (p *epoller) del(fd int) {
	// Closing fd would not remove it while a duplicate of it lives on.
	unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, fd, nil)
}

func (p *epoller) wait(evs []readyEvent, timeout time.Duration) ([]readyEvent, error) {
	n, err := unix.EpollWait(p.epfd, p.evs, waitMillis(timeout))
	if err != nil {
		return evs, notEINTR(err)
	}
	for i := range p.evs[:n] {
		e := &p.evs[i]
		h := handle(uint64(uint32(e.Fd)) | uint64(uint32(e.Pad))<<32)
		if h == 0 {
			p.wfd.drain()
			continue
		}
		var r readyBits
		if e.Events&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLPRI) != 0 {
			r |= evRead
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

func (p *epoller) wake()               { p.wfd.signal() }
func (p *epoller) edgeTriggered() bool { return true }

func (p *epoller) close() {
	p.wfd.close()
	unix.Close(p.epfd)
}

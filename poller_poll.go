//go:build unix

package eventcore

import (
	"time"

	"golang.org/x/sys/unix"
)

// The poll driver: poll(2) exists on every POSIX system, so this driver
// runs wherever the package builds. poll is level-triggered: a descriptor
// is in the pollfd array only while it has pending operations, and only for
// their directions (the shared code calls modify as operations start and
// end), or a writable socket would be reported on every wait.
//
// pfds[0] is the wake-up descriptor; a descriptor's index in pfds is kept in
// slot, so modify and del are O(1) and removal swaps the last entry in.

func init() { registerPoller("poll", 20, newPollPoller) }

type pollPoller struct {
	pfds []unix.PollFd
	hs   []handle // hs[i] is the handle of pfds[i]
	slot []int32  // descriptor → index in pfds; 0: not watched
	wfd  wakeFD
}

func newPollPoller() (poller, error) {
	wfd, err := newWakeFD()
	if err != nil {
		return nil, err
	}
	p := &pollPoller{wfd: wfd, pfds: make([]unix.PollFd, 1, 64), hs: make([]handle, 1, 64)}
	p.pfds[0] = unix.PollFd{Fd: int32(wfd.r), Events: unix.POLLIN}
	return p, nil
}

// add only makes room: a descriptor is watched once it has something to
// wait for.
func (p *pollPoller) add(fd int, _ handle) error {
	if fd < 0 || int(int32(fd)) != fd {
		return unix.EBADF
	}
	for fd >= len(p.slot) {
		p.slot = append(p.slot, 0)
	}
	p.slot[fd] = 0
	return nil
}

func (p *pollPoller) modify(fd int, h handle, want readyBits) error {
	if fd < 0 || fd >= len(p.slot) {
		return unix.EBADF
	}
	i := p.slot[fd]
	if want == 0 {
		if i != 0 {
			p.remove(fd, i)
		}
		return nil
	}
	var events int16
	if want&evRead != 0 {
		events |= unix.POLLIN
	}
	if want&evWrite != 0 {
		events |= unix.POLLOUT
	}
	if i == 0 {
		p.slot[fd] = int32(len(p.pfds))
		p.pfds = append(p.pfds, unix.PollFd{Fd: int32(fd), Events: events})
		p.hs = append(p.hs, h)
		return nil
	}
	p.pfds[i].Events = events
	p.hs[i] = h
	return nil
}

func (p *pollPoller) del(fd int) {
	if fd >= 0 && fd < len(p.slot) && p.slot[fd] != 0 {
		p.remove(fd, p.slot[fd])
	}
}

// remove takes entry i (descriptor fd) out of pfds, moving the last entry
// into its place.
func (p *pollPoller) remove(fd int, i int32) {
	last := int32(len(p.pfds) - 1)
	if i != last {
		p.pfds[i] = p.pfds[last]
		p.hs[i] = p.hs[last]
		p.slot[p.pfds[i].Fd] = i
	}
	p.pfds = p.pfds[:last]
	p.hs[last] = 0
	p.hs = p.hs[:last]
	p.slot[fd] = 0
}

func (p *pollPoller) wait(evs []readyEvent, timeout time.Duration, hold bool) ([]readyEvent, error) {
	var n int
	var err error
	if hold {
		n, err = pollHold(p.pfds, timeout)
	} else {
		n, err = unix.Poll(p.pfds, waitMillis(timeout))
	}
	if err != nil {
		return evs, notEINTR(err)
	}
	if n > 0 && p.pfds[0].Revents != 0 {
		p.wfd.drain()
		n--
	}
	for i := 1; n > 0 && i < len(p.pfds); i++ {
		re := p.pfds[i].Revents
		if re == 0 {
			continue
		}
		n--
		var r readyBits
		if re&unix.POLLIN != 0 {
			r |= evRead
		}
		if re&unix.POLLPRI != 0 {
			r |= evUrgent
		}
		if re&unix.POLLOUT != 0 {
			r |= evWrite
		}
		if re&(unix.POLLERR|unix.POLLHUP|unix.POLLNVAL) != 0 {
			r |= evError
		}
		evs = append(evs, readyEvent{h: p.hs[i], ev: r})
	}
	return evs, nil
}

func (p *pollPoller) wake()               { p.wfd.signal() }
func (p *pollPoller) edgeTriggered() bool { return false }
func (p *pollPoller) canHold() bool       { return pollCanHold }
func (p *pollPoller) close()              { p.wfd.close() }

// reportsCurrentState: poll(2) reports what it found when it looked.
func (p *pollPoller) reportsCurrentState() bool { return true }

// reportsUrgent: POLLPRI is not asked for; being level-triggered, poll
// reports the data left behind an urgent mark anyway.
func (p *pollPoller) reportsUrgent() bool { return false }

//go:build darwin || dragonfly || freebsd

package eventcore

import "golang.org/x/sys/unix"

// kqWake wakes a kqueue through EVFILT_USER: a user event registered once
// (ident 0, EV_CLEAR) and triggered by another goroutine, so the wake-up
// needs no descriptor of its own.
type kqWake struct {
	trigger [1]unix.Kevent_t // built once, only read afterwards
}

func (w *kqWake) open(kq int) error {
	var reg [1]unix.Kevent_t
	unix.SetKevent(&reg[0], 0, unix.EVFILT_USER, unix.EV_ADD|unix.EV_CLEAR)
	if err := kevCtl(kq, reg[:]); err != nil {
		return err
	}
	unix.SetKevent(&w.trigger[0], 0, unix.EVFILT_USER, 0)
	w.trigger[0].Fflags = unix.NOTE_TRIGGER
	return nil
}

func (w *kqWake) signal(kq int) { kevCtl(kq, w.trigger[:]) }

// consume reports whether e is the wake-up; EV_CLEAR has reset it.
func (w *kqWake) consume(e *unix.Kevent_t) bool { return int(e.Filter) == unix.EVFILT_USER }

func (w *kqWake) close() {}

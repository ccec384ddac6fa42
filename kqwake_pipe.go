//go:build netbsd || openbsd

package eventcore

import "golang.org/x/sys/unix"

// kqWake wakes a kqueue through the pipe wakeFD where x/sys offers no
// EVFILT_USER (NetBSD has it only from version 10, OpenBSD not at all).
type kqWake struct{ fd wakeFD }

func (w *kqWake) open(kq int) error {
	fd, err := newWakeFD()
	if err != nil {
		return err
	}
	var reg [1]unix.Kevent_t
	unix.SetKevent(&reg[0], fd.r, unix.EVFILT_READ, unix.EV_ADD|unix.EV_CLEAR)
	if err := kevCtl(kq, reg[:]); err != nil {
		fd.close()
		return err
	}
	w.fd = fd
	return nil
}

func (w *kqWake) signal(int) { w.fd.signal() }

// consume reports whether e is the wake-up, and drains the pipe so that
// the next signal is reported again.
func (w *kqWake) consume(e *unix.Kevent_t) bool {
	if int(e.Filter) != unix.EVFILT_READ || e.Ident != uint64(w.fd.r) {
		return false
	}
	w.fd.drain()
	return true
}

func (w *kqWake) close() { w.fd.close() }

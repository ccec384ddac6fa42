//go:build darwin || dragonfly || freebsd || netbsd || openbsd

package eventcore

import (
	"time"

	"golang.org/x/sys/unix"
)

// The kqueue driver, the default on macOS and the BSDs. Like epoll it is
// edge-triggered: add registers EVFILT_READ and EVFILT_WRITE once, with
// EV_CLEAR, so starting and finishing operations costs no kevent call.
//
// A kevent names its descriptor in ident; the handle is found through
// byFD rather than carried in udata, whose type differs between the
// systems (a pointer on most, an integer on NetBSD) and which, as a
// pointer, must not hold a number the garbage collector would follow.
//
// Besides readiness the poller watches process exits (EVFILT_PROC, whose
// ident is a pid, found through procs) and changes to files and
// directories (EVFILT_VNODE on a descriptor of its own, found through
// byFD like the others): it implements procWatcher and vnodeWatcher.

func init() { registerPoller("kqueue", 10, newKqueue) }

type kqueuePoller struct {
	kq    int
	wk    kqWake // the cross-goroutine wake-up where the loop does not park (kqwake_*.go)
	park  runtimePark
	n     int   // what collectReady found
	err   error // and the error it met
	zero  unix.Timespec
	byFD  fdMap[handle]
	procs map[int][]handle // pid → the handles watching its exit
	evs   []unix.Kevent_t
	chg   [2]unix.Kevent_t // add's change list, kept here so add allocates nothing
	one   [1]unix.Kevent_t // ctlOne's
	ts    unix.Timespec
}

func newKqueue() (poller, error) {
	kq, err := unix.Kqueue()
	if err != nil {
		return nil, err
	}
	// A kqueue is not inherited by fork, so close-on-exec only keeps
	// things tidy.
	unix.CloseOnExec(kq)
	p := &kqueuePoller{kq: kq, evs: make([]unix.Kevent_t, 256)}
	if err := p.wk.open(kq); err != nil {
		unix.Close(kq)
		return nil, err
	}
	// A kqueue descriptor is readable while events are pending, so the
	// loop can sleep in the runtime's poller as on epoll (park_runtime.go).
	if unix.SetNonblock(kq, true) == nil {
		p.park.open(kq, "kqueue", p.collectReady)
	}
	return p, nil
}

// kevCtl applies changes to kq, retrying when a signal interrupts it.
func kevCtl(kq int, changes []unix.Kevent_t) error {
	for {
		_, err := unix.Kevent(kq, changes, nil, nil)
		if err != unix.EINTR {
			return err
		}
	}
}

func (p *kqueuePoller) add(fd int, h handle) error {
	if fd < 0 {
		return unix.EBADF
	}
	unix.SetKevent(&p.chg[0], fd, unix.EVFILT_READ, unix.EV_ADD|unix.EV_CLEAR)
	unix.SetKevent(&p.chg[1], fd, unix.EVFILT_WRITE, unix.EV_ADD|unix.EV_CLEAR)
	if err := kevCtl(p.kq, p.chg[:]); err != nil {
		// Again one filter at a time, to tell which failed. A pipe whose
		// other end is closed refuses EVFILT_WRITE (EPIPE); a write on it
		// fails at once, so it needs no write filter.
		if err := kevCtl(p.kq, p.chg[:1]); err != nil {
			return err
		}
		if err := kevCtl(p.kq, p.chg[1:]); err != nil && err != unix.EPIPE {
			return err
		}
	}
	p.setFD(fd, h)
	return nil
}

func (p *kqueuePoller) setFD(fd int, h handle) { *p.byFD.at(fd) = h }

// ctlOne applies one change. It builds the kevent afresh: SetKevent leaves
// fflags as they were, and a stale NOTE_* would change another filter's
// meaning.
func (p *kqueuePoller) ctlOne(ident, filter, flags int, fflags uint32) error {
	k := &p.one[0]
	*k = unix.Kevent_t{}
	unix.SetKevent(k, ident, filter, flags)
	k.Fflags = fflags
	return kevCtl(p.kq, p.one[:])
}

// watchExit registers EVFILT_PROC for pid. A knote is per pid, so handles
// watching the same process share it: each is reported.
func (p *kqueuePoller) watchExit(pid int, h handle) error {
	if pid <= 0 {
		return unix.ESRCH
	}
	// Registered again for every handle: EV_ADD on a live knote changes
	// nothing, and on a process that is gone it fails with ESRCH, which the
	// caller must learn.
	if err := p.ctlOne(pid, unix.EVFILT_PROC, unix.EV_ADD, unix.NOTE_EXIT); err != nil {
		return err
	}
	if p.procs == nil {
		p.procs = make(map[int][]handle)
	}
	p.procs[pid] = append(p.procs[pid], h)
	return nil
}

func (p *kqueuePoller) unwatchExit(pid int, h handle) {
	hs := p.procs[pid]
	for i, x := range hs {
		if x == h {
			hs = append(hs[:i], hs[i+1:]...)
			break
		}
	}
	if len(hs) > 0 {
		p.procs[pid] = hs
		return
	}
	delete(p.procs, pid)
	// NOTE_EXIT removes its knote as it fires (ENOENT then): only a
	// process still running has one to delete.
	p.ctlOne(pid, unix.EVFILT_PROC, unix.EV_DELETE, 0)
}

// kqVnodeNotes is every change to a vnode a watcher cares about.
const kqVnodeNotes = unix.NOTE_WRITE | unix.NOTE_EXTEND | unix.NOTE_ATTRIB | unix.NOTE_LINK |
	unix.NOTE_DELETE | unix.NOTE_RENAME | unix.NOTE_REVOKE

// watchVnode opens path for notification only (kqVnodeOpen, see
// kqvnode_*.go) and registers EVFILT_VNODE on it. O_NONBLOCK keeps a FIFO
// that replaced a file from blocking the open.
func (p *kqueuePoller) watchVnode(path string, h handle) (int, error) {
	fd, err := unix.Open(path, kqVnodeOpen|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	if err := p.ctlOne(fd, unix.EVFILT_VNODE, unix.EV_ADD|unix.EV_CLEAR, kqVnodeNotes); err != nil {
		unix.Close(fd)
		return -1, err
	}
	p.setFD(fd, h)
	return fd, nil
}

// unwatchVnode closes fd, which removes its knote.
func (p *kqueuePoller) unwatchVnode(fd int) {
	p.del(fd)
	unix.Close(fd)
}

func (p *kqueuePoller) modify(int, handle, readyBits) error { return nil }

// del only forgets fd: closing a descriptor removes its kevents, and del
// is always followed by the close (unlike epoll, kqueue registrations
// belong to the descriptor number, not to the open file a duplicate would
// keep alive). An event already queued for fd is dropped by wait, and
// handles carry generations for one reported before.
func (p *kqueuePoller) del(fd int) {
	if h := p.byFD.ptr(fd); h != nil {
		*h = 0
	}
}

// collectReady collects what is ready without blocking; it reports
// whether it found anything.
func (p *kqueuePoller) collectReady(uintptr) bool {
	n, err := unix.Kevent(p.kq, nil, p.evs, &p.zero)
	switch err {
	case nil:
		p.n = n
		return n > 0
	case unix.EINTR:
		p.n = 0
		return false
	}
	p.n, p.err = 0, err
	return true
}

func (p *kqueuePoller) wait(evs []readyEvent, timeout time.Duration, _ bool) ([]readyEvent, error) {
	p.n, p.err = 0, nil
	switch {
	case timeout > 0 && p.park.parks():
		if err := p.park.park(timeout); err != nil {
			return evs, err
		}
	case timeout > 0:
		var ts *unix.Timespec
		if timeout != Infinite {
			p.ts = unix.NsecToTimespec(int64(min(timeout, maxWait)))
			ts = &p.ts
		}
		n, err := unix.Kevent(p.kq, nil, p.evs, ts)
		if err != nil {
			return evs, notEINTR(err)
		}
		p.n = n
	default:
		p.collectReady(0)
	}
	if p.err != nil {
		return evs, p.err
	}
	for i := range p.evs[:p.n] {
		e := &p.evs[i]
		if p.wk.consume(e) {
			continue
		}
		var r readyBits
		switch int(e.Filter) {
		case unix.EVFILT_READ, unix.EVFILT_VNODE:
			r = evRead
		case unix.EVFILT_WRITE:
			r = evWrite
		case unix.EVFILT_PROC:
			// NOTE_EXIT, the only note asked for.
			for _, h := range p.procs[int(e.Ident)] {
				evs = append(evs, readyEvent{h: h, ev: evRead})
			}
			continue
		default:
			continue
		}
		// EV_EOF needs nothing more: the read or write it allows reports
		// the end of stream or the error.
		if e.Flags&unix.EV_ERROR != 0 {
			r |= evError
		}
		h := p.byFD.get(int(e.Ident))
		if h == 0 {
			continue
		}
		evs = append(evs, readyEvent{h: h, ev: r})
	}
	return evs, nil
}

// wake kicks the parked loop; the kqueue's own wake-up serves only where
// it does not park.
func (p *kqueuePoller) wake() {
	if p.park.parks() {
		p.park.kick()
		return
	}
	p.wk.signal(p.kq)
}

func (p *kqueuePoller) edgeTriggered() bool { return true }

// canHold: not yet; kevent goes through the C library on darwin and
// OpenBSD, which has no call that keeps the P.
func (p *kqueuePoller) canHold() bool { return false }

func (p *kqueuePoller) close() {
	p.wk.close()
	if p.park.file != nil {
		p.park.close()
		return
	}
	unix.Close(p.kq)
}

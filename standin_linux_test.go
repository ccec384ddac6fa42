package eventcore

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// kqueue can only be compiled here, but what the loop does with its process
// and vnode watching can run: kqStandIn is an epoll poller that implements
// procWatcher and vnodeWatcher the way kqueue does (EVFILT_PROC,
// EVFILT_VNODE), from pidfd and inotify. A loop on it takes the paths a
// loop on kqueue takes: exits through the poller, snapshot watchers told of
// changes per vnode. A second stand-in, epoll without inotify, runs the
// snapshot watchers on their timer, as the poll driver does on the BSDs.

func init() {
	kq := standIn{name: "kqueue-standin", new: func(t *testing.T) *Driver {
		d, _ := newKqStandIn(t)
		return d
	}}
	polling := standIn{name: "polling-watchers", new: newPollingStandIn}
	processStandIns = []standIn{kq}
	watcherStandIns = []standIn{kq, polling}
	wakeStandIns = []standIn{{name: "epoll-blocking", new: newBlockingEpollStandIn}}
}

// newBlockingEpollStandIn makes a driver on epoll that does not sleep in
// the runtime's poller, as where the runtime refuses the descriptor.
func newBlockingEpollStandIn(t *testing.T) *Driver {
	p, err := newEpoller()
	if err != nil {
		t.Fatal(err)
	}
	p.(*epoller).park.conn = nil
	return newStandInDriver(t, "epoll-blocking", p)
}

// newPollingStandIn makes a driver on epoll without inotify, whose watchers
// all poll.
func newPollingStandIn(t *testing.T) *Driver {
	p, err := newEpoller()
	if err != nil {
		t.Fatal(err)
	}
	return newStandInDriver(t, "polling-watchers", p)
}

// testPollEvery is how often the stand-ins' snapshot watchers poll: often,
// so that the tests do not wait for the default's second.
const testPollEvery = 5 * time.Millisecond

// newStandInDriver makes a driver for t on p that uses neither pidfd nor
// inotify, disposed of when t ends, as newTestDriver's.
func newStandInDriver(t *testing.T, name string, p poller) *Driver {
	beforeDriver(t)
	l := newLoop(name)
	l.initPosix(p)
	l.noPidfd, l.noInotify = true, true
	l.pollEvery = testPollEvery
	d := &Driver{l}
	t.Cleanup(func() { d.Dispose() })
	return d
}

func newKqStandIn(t *testing.T) (*Driver, *kqStandIn) {
	t.Helper()
	p, err := newEpoller()
	if err != nil {
		t.Fatal(err)
	}
	ino, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		p.close()
		t.Fatal(err)
	}
	s := &kqStandIn{poller: p, ino: ino, pidfds: map[handle]int{}, wds: map[int32]*standInVnode{},
		vnodes: map[int]standInUse{}, buf: make([]byte, 64<<10)}
	if err := p.add(ino, standInInotify); err != nil {
		s.close()
		t.Fatal(err)
	}
	return newStandInDriver(t, "kqueue-standin", s), s
}

type kqStandIn struct {
	poller                   // epoll, for everything else
	pidfds    map[handle]int // watchExit's
	ino       int            // the inotify instance behind watchVnode
	wds       map[int32]*standInVnode
	vnodes    map[int]standInUse // watchVnode's descriptors
	buf       []byte
	failVnode func(path string) error // refuses a vnode, as the kernel may
	// refuseExit, where it returns an error, has watchExit answer that
	// error, as the kernel may: macOS refuses a child on its way out, not
	// yet a zombie (ESRCH).
	refuseExit func(pid int) error
}

// standInVnode is one inotify watch: of a vnode (hs), of the directory
// holding vnodes (children), or both.
type standInVnode struct {
	hs       []handle
	children map[string][]handle
}

type standInUse struct {
	wd, parent int32 // the vnode's watch and its directory's
	name       string
	h          handle
}

// standInInotify is what epoll reports for the inotify descriptor; wait
// turns it into the vnodes' handles before the loop sees it.
var standInInotify = makeHandle(kindNone, maxSlots, 0)

// watchExit refuses a process that has exited and awaits reaping, as
// kqueue does (FreeBSD, macOS): ESRCH.
func (s *kqStandIn) watchExit(pid int, h handle) error {
	if isZombie(pid) {
		return unix.ESRCH
	}
	if s.refuseExit != nil {
		if err := s.refuseExit(pid); err != nil {
			return err
		}
	}
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return err
	}
	if err := s.poller.add(fd, h); err != nil {
		unix.Close(fd)
		return err
	}
	s.pidfds[h] = fd
	return nil
}

func (s *kqStandIn) unwatchExit(_ int, h handle) {
	if fd, ok := s.pidfds[h]; ok {
		s.poller.del(fd)
		unix.Close(fd)
		delete(s.pidfds, h)
	}
}

// isZombie reports whether process pid has exited and awaits reaping.
func isZombie(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	i := bytes.LastIndexByte(stat, ')')
	return err == nil && i >= 0 && i+2 < len(stat) && stat[i+2] == 'Z'
}

// waitZombie waits until process pid has exited and awaits reaping.
func waitZombie(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(hangLimit)
	for !isZombie(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("process %d did not exit", pid)
		}
		time.Sleep(time.Millisecond)
	}
}

func (s *kqStandIn) watchVnode(path string, h handle) (int, error) {
	if s.failVnode != nil {
		if err := s.failVnode(path); err != nil {
			return -1, err
		}
	}
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, err
	}
	// What changes a vnode: a directory's entries, a file's data, and
	// either's attributes, deletion and renaming.
	dir := st.Mode&unix.S_IFMT == unix.S_IFDIR
	mask := uint32(unix.IN_ATTRIB | unix.IN_DELETE_SELF | unix.IN_MOVE_SELF)
	if dir {
		mask |= unix.IN_CREATE | unix.IN_DELETE | unix.IN_MOVED_FROM | unix.IN_MOVED_TO
	} else {
		mask |= unix.IN_MODIFY
	}
	// Through the descriptor, so that the watch is on what was opened.
	wd, err := unix.InotifyAddWatch(s.ino, "/proc/self/fd/"+strconv.Itoa(fd), mask)
	if err != nil {
		unix.Close(fd)
		return -1, err
	}
	// kqueue tells of a vnode's deletion however many descriptors hold it;
	// inotify tells IN_DELETE_SELF only once the last is closed. The
	// directory holding the vnode tells at once, by name.
	dirPath, name := filepath.Split(path)
	pwd, err := unix.InotifyAddWatch(s.ino, dirPath, unix.IN_DELETE|unix.IN_MOVED_FROM|unix.IN_ONLYDIR|unix.IN_MASK_ADD)
	if err != nil {
		s.dropWatch(int32(wd))
		unix.Close(fd)
		return -1, err
	}
	v := s.vnode(int32(wd))
	v.hs = append(v.hs, h)
	pv := s.vnode(int32(pwd))
	if pv.children == nil {
		pv.children = make(map[string][]handle)
	}
	pv.children[name] = append(pv.children[name], h)
	s.vnodes[fd] = standInUse{wd: int32(wd), parent: int32(pwd), name: name, h: h}
	return fd, nil
}

func (s *kqStandIn) vnode(wd int32) *standInVnode {
	v := s.wds[wd]
	if v == nil {
		v = &standInVnode{}
		s.wds[wd] = v
	}
	return v
}

func (s *kqStandIn) unwatchVnode(fd int) {
	u, ok := s.vnodes[fd]
	if !ok {
		return
	}
	delete(s.vnodes, fd)
	if v := s.wds[u.wd]; v != nil {
		v.hs = without(v.hs, u.h)
		s.dropWatch(u.wd)
	}
	if pv := s.wds[u.parent]; pv != nil {
		if pv.children[u.name] = without(pv.children[u.name], u.h); len(pv.children[u.name]) == 0 {
			delete(pv.children, u.name)
		}
		s.dropWatch(u.parent)
	}
	unix.Close(fd)
}

// dropWatch removes watch wd once it serves nothing.
func (s *kqStandIn) dropWatch(wd int32) {
	if v := s.wds[wd]; v == nil || (len(v.hs) == 0 && len(v.children) == 0) {
		delete(s.wds, wd)
		unix.InotifyRmWatch(s.ino, uint32(wd))
	}
}

func without(hs []handle, h handle) []handle {
	for i, x := range hs {
		if x == h {
			return append(hs[:i], hs[i+1:]...)
		}
	}
	return hs
}

// canHold: kqueue does not hold.
func (s *kqStandIn) canHold() bool { return false }

func (s *kqStandIn) wait(evs []readyEvent, timeout time.Duration, hold bool) ([]readyEvent, error) {
	n0 := len(evs)
	evs, err := s.poller.wait(evs, timeout, hold)
	out, vnodes := evs[:n0], false
	for _, ev := range evs[n0:] {
		if ev.h == standInInotify {
			vnodes = true
		} else {
			out = append(out, ev)
		}
	}
	if vnodes {
		out = s.readVnodes(out)
	}
	return out, err
}

// readVnodes drains inotify (epoll reports it edge-triggered) and reports
// the handle of every vnode that changed, once, as kqueue reports a knote
// with EV_CLEAR once per wait.
func (s *kqStandIn) readVnodes(evs []readyEvent) []readyEvent {
	rung := map[handle]bool{}
	ring := func(h handle) {
		if !rung[h] {
			rung[h] = true
			evs = append(evs, readyEvent{h: h, ev: evRead})
		}
	}
	for {
		n, err := unix.Read(s.ino, s.buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil || n <= 0 {
			return evs
		}
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			ev := (*unix.InotifyEvent)(unsafe.Pointer(&s.buf[off]))
			off += unix.SizeofInotifyEvent + int(ev.Len)
			if ev.Mask&unix.IN_Q_OVERFLOW != 0 {
				// kqueue loses nothing: ring every vnode.
				for _, v := range s.wds {
					for _, h := range v.hs {
						ring(h)
					}
				}
				continue
			}
			v := s.wds[ev.Wd]
			if v == nil || ev.Mask&unix.IN_IGNORED != 0 {
				continue
			}
			named := ev.Len > 0
			if named && ev.Mask&(unix.IN_DELETE|unix.IN_MOVED_FROM) != 0 {
				name := s.buf[off-int(ev.Len) : off]
				if i := bytes.IndexByte(name, 0); i >= 0 {
					name = name[:i]
				}
				for _, h := range v.children[string(name)] {
					ring(h)
				}
			}
			// A directory's watch also tells of its files' attributes
			// (with their names): those are not the directory's vnode.
			if named && ev.Mask&unix.IN_ATTRIB != 0 {
				continue
			}
			for _, h := range v.hs {
				ring(h)
			}
		}
	}
}

func (s *kqStandIn) close() {
	for fd := range s.vnodes {
		s.unwatchVnode(fd)
	}
	for h := range s.pidfds {
		s.unwatchExit(0, h)
	}
	unix.Close(s.ino)
	s.poller.close()
}

//go:build linux

package eventcore

import (
	"bytes"
	"os"
	"path"
	"path/filepath"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Directory watching with inotify. One inotify instance per driver serves
// every watcher (the per-user limit on instances is small); the kernel
// gives one watch descriptor per directory inode, so watchers over the same
// directory share it, and a watch is removed only when its last user goes.
// A recursive watcher adds a watch for each directory of its tree, and for
// each directory created (or moved in) later.

const inotifyMask = unix.IN_CREATE | unix.IN_DELETE | unix.IN_MODIFY | unix.IN_ATTRIB |
	unix.IN_MOVED_FROM | unix.IN_MOVED_TO | unix.IN_DELETE_SELF | unix.IN_MOVE_SELF |
	unix.IN_ONLYDIR | unix.IN_DONT_FOLLOW | unix.IN_EXCL_UNLINK

// watchState is the Linux part of sysLoop for watchers.
type watchState struct {
	inotify int               // -1 until the first watcher
	wdUsers map[int32][]wdUse // watch descriptor → the watchers using it
	evbuf   []byte
}

type wdUse struct {
	w   handle
	dir string // the directory, relative to the watcher's base
}

type watcherObj struct {
	base      string
	recursive bool
	cb        FileChangesCallback
	wds       map[string]int32 // directory relative to base → watch descriptor
	ended     bool
}

// inotifyHandle is what the poller reports for the inotify descriptor: no
// real watcher can have it, its slot index is never handed out.
var inotifyHandle = makeHandle(kindWatcher, maxSlots, 0)

func (l *loop) initWatchState() {
	l.inotify = -1
}

func (l *loop) watchDirectory(base string, recursive bool, cb FileChangesCallback) (handle, error) {
	if l.disposed {
		return 0, ErrDisposed
	}
	if cb == nil {
		return 0, ErrNotSupported
	}
	if err := l.inotifyStart(); err != nil {
		return 0, err
	}
	h, e := l.watchers.alloc(kindWatcher)
	if e == nil {
		return 0, ErrTooManyHandles
	}
	e.v = watcherObj{base: filepath.Clean(base), recursive: recursive, cb: cb, wds: make(map[string]int32)}
	if err := l.watchAdd(h, e, ""); err != nil {
		l.watchers.release(h, e)
		return 0, &os.PathError{Op: "watch", Path: base, Err: err}
	}
	if recursive {
		l.watchTree(h, e, "", false)
	}
	l.waiters++
	return h, nil
}

func (l *loop) inotifyStart() error {
	if l.inotify >= 0 {
		return nil
	}
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		return err
	}
	if err = l.p.add(fd, inotifyHandle); err == nil {
		err = l.p.modify(fd, inotifyHandle, evRead)
	}
	if err != nil {
		unix.Close(fd)
		return err
	}
	l.inotify = fd
	l.wdUsers = make(map[int32][]wdUse)
	return nil
}

// watchAdd watches the directory dir (relative to the base) for watcher h.
func (l *loop) watchAdd(h handle, e *entry[watcherObj], dir string) error {
	wd, err := unix.InotifyAddWatch(l.inotify, filepath.Join(e.v.base, dir), inotifyMask)
	if err != nil {
		return err
	}
	e.v.wds[dir] = int32(wd)
	l.wdUsers[int32(wd)] = append(l.wdUsers[int32(wd)], wdUse{w: h, dir: dir})
	return nil
}

// watchTree watches every directory below dir; with report, it also reports
// every entry found as added (they appeared before their directory's watch
// began).
func (l *loop) watchTree(h handle, e *entry[watcherObj], dir string, report bool) {
	ents, err := os.ReadDir(filepath.Join(e.v.base, dir))
	if err != nil {
		return // gone already: its removal is reported by its parent
	}
	for _, de := range ents {
		isDir := de.IsDir()
		if report {
			l.watchReport(h, FileChange{Kind: FileChangeAdded, Directory: dir, Name: de.Name(), IsDirectory: isDir})
			if e = l.watchers.get(h, kindWatcher); e == nil || e.v.ended {
				return
			}
		}
		if isDir {
			sub := path.Join(dir, de.Name())
			if l.watchAdd(h, e, sub) == nil {
				l.watchTree(h, e, sub, report)
				if e = l.watchers.get(h, kindWatcher); e == nil || e.v.ended {
					return
				}
			}
		}
	}
}

// watchDrop stops watching dir and everything below it for watcher h.
func (l *loop) watchDrop(h handle, e *entry[watcherObj], dir string) {
	for d, wd := range e.v.wds {
		if d == dir || dir == "" || strings.HasPrefix(d, dir+"/") {
			delete(e.v.wds, d)
			l.wdRelease(wd, h)
		}
	}
}

// wdRelease drops watcher h's use of wd, removing the kernel's watch with
// its last user.
func (l *loop) wdRelease(wd int32, h handle) {
	users := l.wdUsers[wd]
	for i, u := range users {
		if u.w == h {
			users = append(users[:i], users[i+1:]...)
			break
		}
	}
	if len(users) > 0 {
		l.wdUsers[wd] = users
		return
	}
	delete(l.wdUsers, wd)
	unix.InotifyRmWatch(l.inotify, uint32(wd))
}

// watchEnd stops a watcher for good; its handle stays until released.
func (l *loop) watchEnd(h handle, e *entry[watcherObj]) {
	if e.v.ended {
		return
	}
	l.watchDrop(h, e, "")
	e.v.ended = true
	l.waiters--
}

func (l *loop) watchReport(h handle, c FileChange) {
	e := l.watchers.get(h, kindWatcher)
	if e == nil || e.v.ended {
		return
	}
	c.BaseDirectory = e.v.base
	l.depth++
	e.v.cb(WatcherID{h}, c)
	l.depth--
}

// watchReady reads what inotify queued.
func (l *loop) watchReady() {
	if l.evbuf == nil {
		l.evbuf = make([]byte, 64<<10)
	}
	for l.inotify >= 0 {
		n, err := unix.Read(l.inotify, l.evbuf)
		if err == unix.EINTR {
			continue
		}
		if err != nil || n <= 0 {
			return
		}
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			ev := (*unix.InotifyEvent)(unsafe.Pointer(&l.evbuf[off]))
			name := l.evbuf[off+unix.SizeofInotifyEvent : off+unix.SizeofInotifyEvent+int(ev.Len)]
			if i := bytes.IndexByte(name, 0); i >= 0 {
				name = name[:i]
			}
			off += unix.SizeofInotifyEvent + int(ev.Len)
			l.watchEvent(ev.Wd, ev.Mask, string(name))
		}
	}
}

func (l *loop) watchEvent(wd int32, mask uint32, name string) {
	if mask&unix.IN_Q_OVERFLOW != 0 {
		l.watchers.each(func(h handle, e *entry[watcherObj]) {
			l.watchReport(h, FileChange{Kind: FileChangeOverflow})
		})
		return
	}
	// The slice may change under the callbacks: work on a copy.
	users := append([]wdUse(nil), l.wdUsers[wd]...)
	isDir := mask&unix.IN_ISDIR != 0
	for _, u := range users {
		e := l.watchers.get(u.w, kindWatcher)
		if e == nil || e.v.ended || e.v.wds[u.dir] != wd {
			continue
		}
		switch {
		case mask&(unix.IN_CREATE|unix.IN_MOVED_TO) != 0:
			l.watchReport(u.w, FileChange{Kind: FileChangeAdded, Directory: u.dir, Name: name, IsDirectory: isDir})
			if e = l.watchers.get(u.w, kindWatcher); isDir && e != nil && e.v.recursive && !e.v.ended {
				sub := path.Join(u.dir, name)
				if l.watchAdd(u.w, e, sub) == nil {
					l.watchTree(u.w, e, sub, true)
				}
			}
		case mask&(unix.IN_DELETE|unix.IN_MOVED_FROM) != 0:
			if isDir && e.v.recursive {
				l.watchDrop(u.w, e, path.Join(u.dir, name))
			}
			l.watchReport(u.w, FileChange{Kind: FileChangeRemoved, Directory: u.dir, Name: name, IsDirectory: isDir})
		case mask&(unix.IN_MODIFY|unix.IN_ATTRIB) != 0:
			l.watchReport(u.w, FileChange{Kind: FileChangeModified, Directory: u.dir, Name: name, IsDirectory: isDir})
		case mask&(unix.IN_DELETE_SELF|unix.IN_MOVE_SELF|unix.IN_IGNORED) != 0 && u.dir == "":
			l.watchReport(u.w, FileChange{Kind: FileChangeRemoved, IsDirectory: true})
			if e = l.watchers.get(u.w, kindWatcher); e != nil {
				l.watchEnd(u.w, e)
			}
		case mask&unix.IN_IGNORED != 0:
			// A sub-directory's watch is gone with it; its parent reported it.
			delete(e.v.wds, u.dir)
			l.wdRelease(wd, u.w)
		}
	}
}

// watchFree stops the watcher and frees its entry.
func (l *loop) watchFree(h handle, e *entry[watcherObj]) {
	l.watchEnd(h, e)
	l.watchers.release(h, e)
}

func (l *loop) disposeWatchers() {
	l.watchers.each(func(h handle, e *entry[watcherObj]) {
		l.watchEnd(h, e)
		l.watchers.release(h, e)
	})
	if l.inotify >= 0 {
		l.p.del(l.inotify)
		unix.Close(l.inotify)
		l.inotify = -1
	}
}

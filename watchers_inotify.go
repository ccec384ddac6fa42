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
// every watcher (the per-user limit on instances is small) while there is
// one; the kernel gives one watch descriptor per directory inode, so
// watchers over the same directory share it, and a watch is removed only
// when its last user goes. A recursive watcher adds a watch for each
// directory of its tree, and for each directory created (or moved in)
// later. Where inotify cannot serve a new watcher, because the system's
// limits on instances or watches are reached (or the kernel lacks it), the
// watcher polls snapshots instead (watchers_scan.go).

const inotifyMask = unix.IN_CREATE | unix.IN_DELETE | unix.IN_MODIFY | unix.IN_ATTRIB |
	unix.IN_MOVED_FROM | unix.IN_MOVED_TO | unix.IN_DELETE_SELF | unix.IN_MOVE_SELF |
	unix.IN_ONLYDIR | unix.IN_DONT_FOLLOW | unix.IN_EXCL_UNLINK

type watchState struct {
	scanState                  // watchers_scan.go
	inotify   *inotifyInstance // nil while no watcher uses inotify
	evbuf     []byte
	noInotify bool // tests: snapshot watchers only
}

type inotifyInstance struct {
	fd       int
	wdUsers  map[int32][]wdUse // watch descriptor → the watchers using it
	watchers int
}

type wdUse struct {
	w   handle
	dir string // the directory, relative to the watcher's base
}

type watcherObj struct {
	watcherCommon                  // watchers_posix.go
	wds           map[string]int32 // directory relative to base → watch descriptor
}

// inotifyHandle is what the poller reports for the inotify descriptor: no
// real watcher can have it, its slot index is never handed out.
var inotifyHandle = makeHandle(kindWatcher, maxSlots, 0)

// sysWatchStart starts watcher e with inotify, or with snapshots where
// inotify has reached a limit.
func (l *loop) sysWatchStart(h handle, e *entry[watcherObj]) error {
	if l.noInotify {
		return l.scanStart(h, e)
	}
	err := l.inotifyStart()
	if err == nil {
		l.inotify.watchers++
		e.v.wds = make(map[string]int32)
		if err = l.watchAdd(h, e, ""); err == nil && e.v.recursive {
			err = l.watchTree(h, e, "", false)
		}
		if err == nil {
			return nil
		}
		l.inotifyStop(h, e)
	}
	if err == unix.EMFILE || err == unix.ENFILE || err == unix.ENOSPC || err == unix.ENOSYS {
		return l.scanStart(h, e)
	}
	return err
}

func (l *loop) sysWatchStop(h handle, e *entry[watcherObj]) {
	if e.v.scan != nil {
		l.scanStop(h, e)
	} else {
		l.inotifyStop(h, e)
	}
}

func (l *loop) sysWatchReady(h handle) {
	if h == inotifyHandle {
		l.inotifyReady()
	} else {
		l.scanReady(h)
	}
}

func (l *loop) inotifyStart() error {
	if l.inotify != nil {
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
	l.inotify = &inotifyInstance{fd: fd, wdUsers: make(map[int32][]wdUse)}
	return nil
}

// inotifyStop drops every watch of inotify watcher e, and the instance with
// its last watcher.
func (l *loop) inotifyStop(h handle, e *entry[watcherObj]) {
	l.watchDrop(h, e, "")
	if l.inotify.watchers--; l.inotify.watchers == 0 {
		l.p.del(l.inotify.fd)
		unix.Close(l.inotify.fd)
		l.inotify = nil
	}
}

// watchAdd watches the directory dir (relative to the base) for watcher h.
func (l *loop) watchAdd(h handle, e *entry[watcherObj], dir string) error {
	wd, err := unix.InotifyAddWatch(l.inotify.fd, filepath.Join(e.v.base, dir), inotifyMask)
	if err != nil {
		return err
	}
	e.v.wds[dir] = int32(wd)
	l.inotify.wdUsers[int32(wd)] = append(l.inotify.wdUsers[int32(wd)], wdUse{w: h, dir: dir})
	return nil
}

// watchTree watches every directory below dir; with report, it also reports
// every entry found as added (they appeared before their directory's watch
// began). It returns ENOSPC if the system's limit on watches stopped it; a
// directory that is gone already is no error (its parent reports it).
func (l *loop) watchTree(h handle, e *entry[watcherObj], dir string, report bool) error {
	ents, err := os.ReadDir(filepath.Join(e.v.base, dir))
	if err != nil {
		return nil
	}
	for _, de := range ents {
		isDir := de.IsDir()
		if report {
			l.watchReport(h, FileChange{Kind: FileChangeAdded, Directory: dir, Name: de.Name(), IsDirectory: isDir})
			if e = l.watching(h); e == nil {
				return nil
			}
		}
		if isDir {
			sub := path.Join(dir, de.Name())
			err := l.watchAdd(h, e, sub)
			if err == nil {
				err = l.watchTree(h, e, sub, report)
			}
			if err == unix.ENOSPC {
				return err
			}
			if e = l.watching(h); e == nil {
				return nil
			}
		}
	}
	return nil
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
	in := l.inotify
	users := in.wdUsers[wd]
	for i, u := range users {
		if u.w == h {
			users = append(users[:i], users[i+1:]...)
			break
		}
	}
	if len(users) > 0 {
		in.wdUsers[wd] = users
		return
	}
	delete(in.wdUsers, wd)
	unix.InotifyRmWatch(in.fd, uint32(wd))
}

// inotifyReady reads what inotify queued. The callbacks may end the last
// inotify watcher, which closes the instance: then the rest is dropped.
func (l *loop) inotifyReady() {
	if l.evbuf == nil {
		l.evbuf = make([]byte, 64<<10)
	}
	in := l.inotify
	for in != nil && l.inotify == in {
		n, err := unix.Read(in.fd, l.evbuf)
		if err == unix.EINTR {
			continue
		}
		if err != nil || n <= 0 {
			return
		}
		for off := 0; off+unix.SizeofInotifyEvent <= n && l.inotify == in; {
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
			if e.v.scan == nil {
				l.watchReport(h, FileChange{Kind: FileChangeOverflow})
			}
		})
		return
	}
	// The slice may change under the callbacks: work on a copy.
	users := append([]wdUse(nil), l.inotify.wdUsers[wd]...)
	isDir := mask&unix.IN_ISDIR != 0
	for _, u := range users {
		e := l.watching(u.w)
		if e == nil || e.v.wds[u.dir] != wd {
			continue
		}
		switch {
		case mask&(unix.IN_CREATE|unix.IN_MOVED_TO) != 0:
			l.watchReport(u.w, FileChange{Kind: FileChangeAdded, Directory: u.dir, Name: name, IsDirectory: isDir})
			if e = l.watching(u.w); isDir && e != nil && e.v.recursive {
				sub := path.Join(u.dir, name)
				err := l.watchAdd(u.w, e, sub)
				if err == nil {
					err = l.watchTree(u.w, e, sub, true)
				}
				if err == unix.ENOSPC {
					// Out of watches: changes below sub will be missed.
					l.watchReport(u.w, FileChange{Kind: FileChangeOverflow})
				}
			}
		case mask&(unix.IN_DELETE|unix.IN_MOVED_FROM) != 0:
			if isDir && e.v.recursive {
				l.watchDrop(u.w, e, path.Join(u.dir, name))
			}
			l.watchReport(u.w, FileChange{Kind: FileChangeRemoved, Directory: u.dir, Name: name, IsDirectory: isDir})
		case mask&(unix.IN_MODIFY|unix.IN_ATTRIB) != 0:
			// Without a name it is about the watched directory itself,
			// which its parent's watch reports by name (an empty Name is
			// the base going away).
			if name != "" {
				l.watchReport(u.w, FileChange{Kind: FileChangeModified, Directory: u.dir, Name: name, IsDirectory: isDir})
			}
		case mask&(unix.IN_DELETE_SELF|unix.IN_MOVE_SELF|unix.IN_IGNORED) != 0 && u.dir == "":
			l.watchBaseGone(u.w)
		case mask&unix.IN_IGNORED != 0:
			// A sub-directory's watch is gone with it; its parent reported it.
			delete(e.v.wds, u.dir)
			l.wdRelease(wd, u.w)
		}
	}
}

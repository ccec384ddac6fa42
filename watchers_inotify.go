//go:build linux

package eventcore

import (
	"bytes"
	"os"
	"path"
	"path/filepath"
	"sort"
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
// watcher polls snapshots instead (watchers_scan.go); a recursive watcher
// whose tree outgrows the limit on watches later turns into one the same
// way, reporting an overflow.
//
// When the kernel's queue overflows, the events it dropped may have been
// the creation of directories, which then would never be watched, or the
// removal of watched ones, or of the watched directory itself: each
// inotify watcher reads its tree again, watches what it lacks, drops what
// is gone, ends if its directory went away, and only then reports the
// overflow, so that what its callback reads then is watched already.

const inotifyMask = unix.IN_CREATE | unix.IN_DELETE | unix.IN_MODIFY | unix.IN_ATTRIB |
	unix.IN_MOVED_FROM | unix.IN_MOVED_TO | unix.IN_DELETE_SELF | unix.IN_MOVE_SELF |
	unix.IN_ONLYDIR | unix.IN_DONT_FOLLOW | unix.IN_EXCL_UNLINK

type watchState struct {
	scanState                  // watchers_scan.go
	inotify   *inotifyInstance // nil while no watcher uses inotify
	evbuf     []byte
	noInotify bool                    // tests: snapshot watchers only
	failWatch func(path string) error // tests: refuses a watch, as the kernel may
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
	wds           map[string]int32 // directory relative to base → watch descriptor; nil unless inotify serves it
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
	} else if e.v.wds != nil {
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
	e.v.wds = nil
	if l.inotify.watchers--; l.inotify.watchers == 0 {
		l.p.del(l.inotify.fd)
		unix.Close(l.inotify.fd)
		l.inotify = nil
	}
}

// watchAdd watches the directory dir (relative to the base) for watcher h.
// If dir is watched already and the kernel gives the same watch, nothing
// changes; if it gives another, another directory took dir's place: what
// was watched there and below is dropped first. If dir cannot be watched,
// its old watches are dropped.
func (l *loop) watchAdd(h handle, e *entry[watcherObj], dir string) error {
	p := filepath.Join(e.v.base, dir)
	var wd int
	var err error
	if l.failWatch != nil {
		err = l.failWatch(p)
	}
	if err == nil {
		wd, err = unix.InotifyAddWatch(l.inotify.fd, p, inotifyMask)
	}
	if old, ok := e.v.wds[dir]; ok {
		if err == nil && old == int32(wd) {
			return nil
		}
		l.watchDrop(h, e, dir)
	}
	if err != nil {
		return err
	}
	e.v.wds[dir] = int32(wd)
	l.inotify.wdUsers[int32(wd)] = append(l.inotify.wdUsers[int32(wd)], wdUse{w: h, dir: dir})
	return nil
}

// watchTree watches every directory below dir (those watched already stay
// as they are); with report, it also reports every entry found as added
// (they appeared before their directory's watch began). Symbolic links are
// entries like files: what they lead to is not watched. It returns ENOSPC
// if the system's limit on watches stopped it; a directory that is gone
// already is no error (its parent reports it).
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

// watchNewDir watches sub, a directory new to recursive watcher h, and
// those below it, and reports what they hold as added. One that cannot be
// watched (no permission to read it) is tried again when its attributes
// change; out of watches, the watcher turns to snapshots.
func (l *loop) watchNewDir(h handle, e *entry[watcherObj], sub string) {
	err := l.watchAdd(h, e, sub)
	if err == nil {
		err = l.watchTree(h, e, sub, true)
	}
	if err == unix.ENOSPC {
		l.inotifyToScan(h)
	}
}

// watchDrop stops watching dir and everything below it for watcher h.
func (l *loop) watchDrop(h handle, e *entry[watcherObj], dir string) {
	for d, wd := range e.v.wds {
		if d == dir || dir == "" || strings.HasPrefix(d, dir+"/") {
			delete(e.v.wds, d)
			l.wdRelease(wd, h, d)
		}
	}
}

// wdRelease drops watcher h's use of wd for directory dir, removing the
// kernel's watch with its last user. (After an overflow, one watcher may
// use a watch under two names for a moment: a directory's old one, gone,
// and its new one.)
func (l *loop) wdRelease(wd int32, h handle, dir string) {
	in := l.inotify
	users := in.wdUsers[wd]
	for i, u := range users {
		if u.w == h && u.dir == dir {
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
		l.inotifyOverflow()
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
				l.watchNewDir(u.w, e, path.Join(u.dir, name))
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
			if name == "" {
				break
			}
			l.watchReport(u.w, FileChange{Kind: FileChangeModified, Directory: u.dir, Name: name, IsDirectory: isDir})
			// A sub-directory that could not be watched (no permission to
			// read it) may be now.
			if e = l.watching(u.w); isDir && e != nil && e.v.recursive {
				sub := path.Join(u.dir, name)
				if _, ok := e.v.wds[sub]; !ok {
					l.watchNewDir(u.w, e, sub)
				}
			}
		case mask&(unix.IN_DELETE_SELF|unix.IN_MOVE_SELF|unix.IN_IGNORED) != 0 && u.dir == "":
			l.watchBaseGone(u.w)
		case mask&unix.IN_IGNORED != 0:
			// A sub-directory's watch is gone with it; its parent reported it.
			delete(e.v.wds, u.dir)
			l.wdRelease(wd, u.w, u.dir)
		}
	}
}

// inotifyOverflow: the kernel dropped events. Each inotify watcher of the
// moment reads its tree again before it hears of the overflow.
func (l *loop) inotifyOverflow() {
	var hs []handle
	l.watchers.each(func(h handle, e *entry[watcherObj]) {
		if e.v.wds != nil && !e.v.ended {
			hs = append(hs, h)
		}
	})
	for _, h := range hs {
		// An earlier callback may have released it, or the rescan of an
		// earlier watcher turned it into a snapshot watcher.
		if e := l.watching(h); e != nil && e.v.wds != nil {
			l.inotifyRescan(h, e)
		}
	}
}

// inotifyRescan brings the watches of watcher h in line with its tree, as
// the events the kernel dropped would have, and reports the overflow; or,
// if its directory is gone or another stands in its place, ends it. What
// the rescan finds is not reported: after the overflow the callback is to
// read the tree again, and by then what it reads is watched.
func (l *loop) inotifyRescan(h handle, e *entry[watcherObj]) {
	base := e.v.wds[""]
	if l.watchAdd(h, e, "") != nil || e.v.wds[""] != base {
		l.watchBaseGone(h)
		return
	}
	if e.v.recursive {
		// The directories watched first, parents before their children, so
		// that a directory gone is dropped with what was below it; then
		// the tree, for the directories not watched yet.
		dirs := make([]string, 0, len(e.v.wds))
		for d := range e.v.wds {
			dirs = append(dirs, d)
		}
		sort.Strings(dirs)
		for _, d := range dirs {
			if _, ok := e.v.wds[d]; ok && d != "" {
				l.watchAdd(h, e, d)
			}
		}
		if l.watchTree(h, e, "", false) == unix.ENOSPC {
			l.inotifyToScan(h)
			return
		}
	}
	l.watchReport(h, FileChange{Kind: FileChangeOverflow})
}

// inotifyToScan turns watcher h, whose tree outgrew the system's limit on
// inotify watches, into a snapshot watcher, as sysWatchStart makes one when
// the limit is reached already, and reports an overflow: what changed in
// between is not known. If the snapshot watcher cannot start, the watcher
// ends as if its directory went away.
func (l *loop) inotifyToScan(h handle) {
	e := l.watching(h)
	if e == nil {
		return
	}
	l.inotifyStop(h, e)
	if l.scanStart(h, e) != nil {
		l.watchBaseGone(h)
		return
	}
	l.watchReport(h, FileChange{Kind: FileChangeOverflow})
}

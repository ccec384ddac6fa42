//go:build unix

package eventcore

import (
	"path"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// The snapshot watcher, for systems without inotify: each watched directory
// has a node holding a snapshot of its entries, and when the directory may
// have changed it is read again and the two snapshots are compared
// (diffSnapshots): what differs are the changes, with their names.
//
// What says "may have changed" is the poller, where it watches vnodes
// (kqueue's EVFILT_VNODE, a vnodeWatcher), or else a timer that rescans
// every pollEvery. With vnodes, every directory has a descriptor, and so
// does every regular file: a directory's vnode changes only when its
// entries do, not when a file in it is written, and rescanning on a timer
// to catch writes would report them late and cost a stat of every file on
// every round. A file's event costs a stat of that file alone; the kernel
// said it changed, so it is reported modified even where coarse timestamps
// show no difference. The price is a descriptor per file, so when
// descriptors run out (EMFILE, ENFILE) the watcher gives all of its vnodes
// back and polls instead; a directory whose vnode, or one of whose files'
// vnodes, cannot be watched for another reason (an unreadable file where
// there is no O_EVTONLY) is polled too, and so is one that is there but
// cannot be read for now (out of descriptors, no permission). Polling
// finds modifications by comparing sizes and times, so two writes of the
// same size within the file system's timestamp granularity read as one.
//
// Without a vnodeWatcher (the poll driver on macOS and the BSDs) every
// directory is polled. Changes are never dropped, only merged: there is no
// queue to overflow, so FileChangeOverflow is never reported.

// scanPollInterval is how often polled directories are read again.
const scanPollInterval = time.Second

type scanState struct {
	nodes        table[watchNode]
	pollerVnodes vnodeWatcher // the poller, if it watches vnodes
	polled       int          // directory nodes rescanned by pollTimer
	pollTimer    handle       // an internal timer, there while polled > 0
	pollEvery    time.Duration
	reports      uint32 // changes reported, to tell whether a tick ran callbacks
}

// scanWatch is a watcher's part of the snapshot watcher.
type scanWatch struct {
	dirs     map[string]handle // directory relative to the base → its node
	noVnodes bool              // every directory polled
}

// watchNode is a directory or a file a snapshot watcher watches.
type watchNode struct {
	w      handle // the watcher
	dir    handle // a file's directory node; 0 for a directory
	name   string // a directory's path relative to the base, or a file's name
	fd     int    // the descriptor the poller watches; -1 when none
	id     fileID // a directory's identity, to tell it from one put in its place
	snap   dirSnapshot
	files  map[string]handle // a directory's file nodes, by name
	polled bool
}

func (l *loop) initScanState() {
	l.nodes.tag, l.nodes.salt = l.timers.tag, l.timers.salt
	l.pollerVnodes, _ = l.p.(vnodeWatcher)
	l.pollEvery = scanPollInterval
}

// scanStart makes e a snapshot watcher and reads its tree.
func (l *loop) scanStart(h handle, e *entry[watcherObj]) error {
	e.v.scan = &scanWatch{dirs: make(map[string]handle), noVnodes: l.pollerVnodes == nil}
	if err := l.scanAddDir(h, e, "", false); err != nil {
		e.v.scan = nil
		return err
	}
	return nil
}

// scanStop forgets every node of watcher e.
func (l *loop) scanStop(h handle, e *entry[watcherObj]) { l.scanDropDir(e, "") }

// scanAddDir starts watching directory rel of watcher h, and with
// recursion the directories below it. With report, it reports what it
// finds as added: the entries were made before the watch began. It fails
// only if rel is not there, or is the base and cannot be read.
func (l *loop) scanAddDir(h handle, e *entry[watcherObj], rel string, report bool) error {
	nh, n := l.nodes.alloc(kindWatchNode)
	if n == nil {
		return ErrTooManyHandles
	}
	n.v = watchNode{w: h, name: rel, fd: -1, snap: make(dirSnapshot)}
	dirPath := filepath.Join(e.v.base, rel)
	// The vnode is watched before the directory is read, so that what
	// changes in between is not missed.
	if !e.v.scan.noVnodes {
		l.scanWatchVnode(h, e, n, nh, dirPath)
	}
	id, err := readSnapshot(dirPath, n.v.snap)
	if err != nil && rel != "" {
		// A sub-directory that is there but cannot be read now (out of
		// descriptors, no permission) is polled from an empty snapshot:
		// what it holds is reported as added once it can be read.
		if thereID, there := dirThere(dirPath); there {
			id, err = thereID, nil
			l.scanSetPolled(n, true)
		}
	}
	if err == nil && n.v.fd >= 0 {
		var st unix.Stat_t
		if err = unix.Fstat(n.v.fd, &st); err == nil && idOf(&st) != id {
			err = unix.ENOENT // moved away between the two: what was read is another
		}
	}
	if err != nil {
		l.scanFreeNode(n, nh)
		return err
	}
	n.v.id = id
	if e.v.scan.noVnodes {
		l.scanSetPolled(n, true)
	}
	e.v.scan.dirs[rel] = nh
	snap, names := n.v.snap, sortedNames(n.v.snap)
	for _, name := range names {
		// Until descriptors run out, which gives the directory's back.
		if n.v.fd >= 0 && snap[name].isRegular() {
			l.scanWatchFile(h, e, n, nh, name)
		}
	}
	for _, name := range names {
		isDir := snap[name].isDir()
		if report {
			l.watchReport(h, FileChange{Kind: FileChangeAdded, Directory: rel, Name: name, IsDirectory: isDir})
			if e = l.watching(h); e == nil {
				return nil
			}
		}
		if isDir && e.v.recursive {
			// A sub-directory that is not there is gone already: its
			// removal is reported with its parent's next change.
			l.scanAddDir(h, e, path.Join(rel, name), report)
			if e = l.watching(h); e == nil {
				return nil
			}
		}
	}
	return nil
}

// scanWatchVnode asks the poller to watch directory node n.
func (l *loop) scanWatchVnode(h handle, e *entry[watcherObj], n *entry[watchNode], nh handle, dirPath string) {
	fd, err := l.pollerVnodes.watchVnode(dirPath, nh)
	switch {
	case err == nil:
		n.v.fd = fd
	case outOfDescriptors(err):
		l.scanNoVnodes(e)
	default:
		// Polled, if the directory can be read at all (scanAddDir sees).
		l.scanSetPolled(n, true)
	}
}

// scanWatchFile asks the poller to watch the regular file name in directory
// node d, so that writing to it is noticed.
func (l *loop) scanWatchFile(h handle, e *entry[watcherObj], d *entry[watchNode], dh handle, name string) {
	fh, f := l.nodes.alloc(kindWatchNode)
	if f == nil {
		l.scanSetPolled(d, true)
		return
	}
	f.v = watchNode{w: h, dir: dh, name: name, fd: -1}
	filePath := filepath.Join(e.v.base, d.v.name, name)
	fd, err := l.pollerVnodes.watchVnode(filePath, fh)
	var st unix.Stat_t
	if err == nil && unix.Fstat(fd, &st) == nil && d.v.snap[name].sameFile(entryOf(&st)) {
		f.v.fd = fd
		if d.v.files == nil {
			d.v.files = make(map[string]handle)
		}
		d.v.files[name] = fh
		return
	}
	l.nodes.release(fh, f)
	switch {
	case err == nil:
		// Another file took the name since the directory was read: the
		// directory's own event reports it.
		l.pollerVnodes.unwatchVnode(fd)
	case outOfDescriptors(err):
		l.scanNoVnodes(e)
	case unix.Fstatat(unix.AT_FDCWD, filePath, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && d.v.snap[name].sameFile(entryOf(&st)):
		// Still there, but it cannot be watched: poll its directory.
		l.scanSetPolled(d, true)
	}
}

func outOfDescriptors(err error) bool { return err == unix.EMFILE || err == unix.ENFILE }

// dirThere reports whether a directory (not a symbolic link to one) is at
// dirPath, and which.
func dirThere(dirPath string) (fileID, bool) {
	var st unix.Stat_t
	if unix.Fstatat(unix.AT_FDCWD, dirPath, &st, unix.AT_SYMLINK_NOFOLLOW) != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return fileID{}, false
	}
	return idOf(&st), true
}

// scanNoVnodes gives back every vnode of watcher e, and polls all of its
// directories from now on.
func (l *loop) scanNoVnodes(e *entry[watcherObj]) {
	e.v.scan.noVnodes = true
	for _, nh := range e.v.scan.dirs {
		n := l.nodes.get(nh, kindWatchNode)
		if n == nil {
			continue
		}
		l.scanForgetFiles(n)
		if n.v.fd >= 0 {
			l.pollerVnodes.unwatchVnode(n.v.fd)
			n.v.fd = -1
		}
		l.scanSetPolled(n, true)
	}
}

// scanSetPolled puts directory node n on the poll timer or takes it off,
// starting the timer with the first polled node and stopping it with the
// last. The timer is the driver's own: it is no waiter (the watchers are),
// and no handle the user sees.
func (l *loop) scanSetPolled(n *entry[watchNode], on bool) {
	if n.v.polled == on {
		return
	}
	n.v.polled = on
	if on {
		if l.polled++; l.polled == 1 {
			// Without a handle left, the watchers' vnodes, if any, still work.
			if l.pollTimer = l.newInternalTimer(l.scanTick); l.pollTimer != 0 {
				l.timerSet(l.pollTimer, kindInternalTimer, l.pollEvery, l.pollEvery)
			}
		}
		return
	}
	if l.polled--; l.polled == 0 && l.pollTimer != 0 {
		l.freeInternalTimer(l.pollTimer)
		l.pollTimer = 0
	}
}

// scanTick rescans every polled directory, and reports whether a change was
// reported.
func (l *loop) scanTick() bool {
	before := l.reports
	l.nodes.each(func(nh handle, n *entry[watchNode]) {
		if n.v.polled {
			l.scanRescan(nh)
		}
	})
	return l.reports != before
}

// scanReady runs when the poller reports node nh.
func (l *loop) scanReady(nh handle) {
	n := l.nodes.get(nh, kindWatchNode)
	if n == nil {
		return
	}
	if n.v.dir != 0 {
		// The kernel says the file changed: report it as modified.
		l.scanRecheck(n.v.dir, n.v.name, true)
		return
	}
	h, rel := n.v.w, n.v.name
	l.scanRescan(nh)
	// A directory's own attributes are an entry of its parent, whose
	// vnode does not change with them.
	if e := l.watching(h); e != nil && rel != "" {
		parent, name := path.Split(rel)
		if ph, ok := e.v.scan.dirs[strings.TrimSuffix(parent, "/")]; ok {
			l.scanRecheck(ph, name, false)
		}
	}
}

// scanRecheck looks at the entry name of directory node dh alone: if it is
// still the same file, it is reported modified when it differs from the
// snapshot or when force says the kernel reported it; anything else is left
// to a rescan of the directory.
func (l *loop) scanRecheck(dh handle, name string, force bool) {
	d := l.nodes.get(dh, kindWatchNode)
	if d == nil {
		return
	}
	e := l.watching(d.v.w)
	if e == nil {
		return
	}
	var st unix.Stat_t
	err := unix.Fstatat(unix.AT_FDCWD, filepath.Join(e.v.base, d.v.name, name), &st, unix.AT_SYMLINK_NOFOLLOW)
	old, ok := d.v.snap[name]
	if err != nil || !ok || !old.sameFile(entryOf(&st)) {
		l.scanRescan(dh)
		return
	}
	cur := entryOf(&st)
	if !force && !old.modifiedTo(cur) {
		return
	}
	d.v.snap[name] = cur
	l.watchReport(d.v.w, FileChange{Kind: FileChangeModified, Directory: d.v.name, Name: name, IsDirectory: cur.isDir()})
}

// scanRescan reads directory node nh again and reports what changed.
func (l *loop) scanRescan(nh handle) {
	n := l.nodes.get(nh, kindWatchNode)
	if n == nil {
		return
	}
	h, rel := n.v.w, n.v.name
	e := l.watching(h)
	if e == nil {
		return
	}
	cur := make(dirSnapshot, len(n.v.snap))
	dirPath := filepath.Join(e.v.base, rel)
	id, err := readSnapshot(dirPath, cur)
	if err != nil {
		if id, there := dirThere(dirPath); there && id == n.v.id {
			// Still there, but unreadable now: try again on the timer.
			l.scanSetPolled(n, true)
			return
		}
	}
	if err != nil || id != n.v.id {
		if rel == "" {
			// Deleted, or moved away (what stands at its path now is
			// another directory).
			l.watchBaseGone(h)
		}
		// A sub-directory that went away: its parent reports it.
		return
	}
	changes := diffSnapshots(n.v.snap, cur, nil)
	n.v.snap = cur
	for _, c := range changes {
		sub := path.Join(rel, c.name)
		switch c.kind {
		case FileChangeRemoved:
			if fh, ok := n.v.files[c.name]; ok {
				delete(n.v.files, c.name)
				l.scanFreeNode(l.nodes.get(fh, kindWatchNode), fh)
			}
			if c.isDir && e.v.recursive {
				l.scanDropDir(e, sub)
			}
		case FileChangeAdded:
			if n.v.fd >= 0 && cur[c.name].isRegular() {
				l.scanWatchFile(h, e, n, nh, c.name)
			}
		}
		l.watchReport(h, FileChange{Kind: c.kind, Directory: rel, Name: c.name, IsDirectory: c.isDir})
		if e = l.watching(h); e == nil {
			return
		}
		if c.kind == FileChangeAdded && c.isDir && e.v.recursive {
			l.scanAddDir(h, e, sub, true)
			if e = l.watching(h); e == nil {
				return
			}
		}
		if n = l.nodes.get(nh, kindWatchNode); n == nil {
			return
		}
	}
}

// scanDropDir forgets directory rel of watcher e and every one below it
// ("": all).
func (l *loop) scanDropDir(e *entry[watcherObj], rel string) {
	for d, nh := range e.v.scan.dirs {
		if rel == "" || d == rel || strings.HasPrefix(d, rel+"/") {
			delete(e.v.scan.dirs, d)
			l.scanFreeNode(l.nodes.get(nh, kindWatchNode), nh)
		}
	}
}

// scanFreeNode releases node n, its descriptor, and a directory's file
// nodes.
func (l *loop) scanFreeNode(n *entry[watchNode], nh handle) {
	if n == nil {
		return
	}
	l.scanForgetFiles(n)
	if n.v.fd >= 0 {
		l.pollerVnodes.unwatchVnode(n.v.fd)
	}
	l.scanSetPolled(n, false)
	l.nodes.release(nh, n)
}

func (l *loop) scanForgetFiles(n *entry[watchNode]) {
	for name, fh := range n.v.files {
		delete(n.v.files, name)
		l.scanFreeNode(l.nodes.get(fh, kindWatchNode), fh)
	}
}

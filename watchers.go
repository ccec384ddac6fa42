package eventcore

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// FileChangeKind is what happened in a watched directory.
type FileChangeKind uint8

const (
	// FileChangeAdded: a file or directory appeared (created, or moved in).
	FileChangeAdded FileChangeKind = iota
	// FileChangeRemoved: a file or directory went away (deleted, or moved
	// out). A rename is reported as removed + added.
	FileChangeRemoved
	// FileChangeModified: a file's data or attributes changed.
	FileChangeModified
	// FileChangeOverflow: the system dropped changes (its queue or buffer
	// overflowed, or a recursive watcher's tree outgrew the system's limit
	// on inotify watches and its watcher turned to snapshots): the
	// callback is to read the tree again. By then the watcher watches the
	// tree as it stands, the directories whose creation was lost included
	// (what it found is not reported one by one), so what the callback
	// reads, with the changes reported after it, misses nothing; a change
	// may be seen twice. A watcher whose directory went away meanwhile
	// ends instead, with the FileChangeRemoved that says so. Snapshot
	// watchers lose no changes, only merge them, and never report it.
	FileChangeOverflow
)

var fileChangeKindNames = []string{"added", "removed", "modified", "overflow"}

// String returns the seed's name of the value, e.g. "added".
func (k FileChangeKind) String() string {
	return enumString(fileChangeKindNames, uint8(k), "FileChangeKind")
}

// FileChange describes one change in a watched directory tree.
type FileChange struct {
	Kind FileChangeKind
	// BaseDirectory is the watched directory, as given to WatchDirectory.
	BaseDirectory string
	// Directory is the sub-directory of BaseDirectory holding the changed
	// entry, "" for BaseDirectory itself (slash-separated).
	Directory string
	// Name is the changed entry's name; "" (with Directory "") when the
	// watched directory itself went away.
	Name string
	// IsDirectory tells whether the entry is a directory.
	IsDirectory bool
}

// FileChangesCallback is called, from ProcessEvents, for every change. The
// changes the system reports together are all found, and the watcher is
// watching again, before the first of them is reported: a watcher made by
// the callback hears only of later changes, and a callback that panics
// loses none (the next ProcessEvents reports the rest).
type FileChangesCallback func(id WatcherID, change FileChange)

// Watchers watches directories for changes: [Driver.Watchers] returns it.
// Its methods belong to the loop's owner goroutine.
type Watchers struct{ l *loop }

// WatchDirectory starts watching path (and, if recursive, every directory
// below it, including those created later) and calls cb for each change.
// A watcher counts as a waiter while it watches. When the watched directory
// itself is deleted or moved, cb gets a FileChangeRemoved with empty
// Directory and Name and the watcher stops (its handle stays valid until
// released). In a directory created inside a recursive watch, entries made
// before its watch began are reported as added when it is scanned; one may
// then be reported twice. A nil cb gives ErrNotSupported.
//
// Symbolic links in path, a last one included, are followed once, when the
// watch begins: the watcher watches the directory they lead to then,
// whatever becomes of the links later (it ends when that directory goes
// away, not when a link does), and its changes carry path as given in
// BaseDirectory. A link to something other than a directory, or to nothing,
// is an error, as a path that is no directory is. Symbolic links inside the
// tree are entries like files (IsDirectory false): a recursive watcher
// does not follow them, so a link to a directory above cannot make it loop
// and one to a directory elsewhere does not widen the watch.
//
// Every driver watches: the epoll and poll drivers on Linux with inotify;
// where inotify's limits on instances or watches are reached, and on other
// POSIX systems, a watcher keeps a snapshot of each directory and compares
// it with the directory read again when kqueue reports a change to it (the
// kqueue driver), or else every second; the winapi driver with
// ReadDirectoryChangesW. See FileChangeOverflow for what an overflow
// means.
func (w Watchers) WatchDirectory(path string, recursive bool, cb FileChangesCallback) (WatcherID, error) {
	h, err := w.l.watchDirectory(path, recursive, cb)
	return WatcherID{h}, err
}

// AddRef adds a reference to the watcher.
func (w Watchers) AddRef(id WatcherID) { w.l.watchAddRef(id.h) }

// ReleaseRef drops a reference; the last one stops the watcher (no
// callback runs after that) and frees it. It reports whether the watcher is
// still alive: false when this call freed it or the handle was invalid.
func (w Watchers) ReleaseRef(id WatcherID) bool { return w.l.watchRelease(id.h) }

// watchTarget returns the directory that a watcher of path watches: path
// with its symbolic links followed (see WatchDirectory). Its error is the
// system's, without a path (the caller names the path given); ENOTDIR if
// path leads to something other than a directory.
func watchTarget(path string) (string, error) {
	target, err := filepath.EvalSymlinks(path)
	if err == nil {
		var st fs.FileInfo
		if st, err = os.Stat(target); err == nil && !st.IsDir() {
			err = syscall.ENOTDIR
		}
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return target, err
}

// changeQueue holds the changes a watcher's mechanism found (reading
// inotify's events, comparing snapshots, reading ReadDirectoryChangesW's
// buffer) and that were not reported yet. The mechanism finishes its work,
// watching the new sub-directories among the rest, before any callback
// runs, so that a callback that panics or calls ProcessEvents cannot
// interrupt it; the changes are then reported from the queue, a batch with
// a cursor (see "Batches" in loop.go).
type changeQueue struct {
	items []queuedChange
	pos   int
}

type queuedChange struct {
	w handle
	c FileChange
}

// queueChange queues change c of watcher h, to report once the work that
// found it is done.
func (l *loop) queueChange(h handle, c FileChange) {
	l.changes.items = append(l.changes.items, queuedChange{w: h, c: c})
}

// reportChanges reports the queued changes, each to its watcher if that is
// still live; it reports whether callbacks ran.
func (l *loop) reportChanges() bool {
	q := &l.changes
	ran := false
	for q.pos < len(q.items) && !l.disposed {
		it := q.items[q.pos]
		q.items[q.pos] = queuedChange{}
		q.pos++
		e := l.watchers.get(it.w, kindWatcher)
		if e == nil || e.v.cb == nil {
			continue
		}
		ran = true
		l.depth++
		e.v.cb(WatcherID{it.w}, it.c)
		l.depth--
	}
	if q.pos == len(q.items) {
		q.items, q.pos = q.items[:0], 0
	}
	return ran
}

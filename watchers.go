package eventcore

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
	// FileChangeOverflow: the system dropped changes (its queue
	// overflowed); what is in the directory is to be read again.
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
// then be reported twice. Watching needs inotify (Linux); elsewhere it
// fails with ErrNotSupported for now.
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

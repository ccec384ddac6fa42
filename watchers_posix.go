//go:build unix

package eventcore

import "os"

// Directory watchers on readiness drivers. The handle table, reference
// counting and reporting are here, shared by the two mechanisms that find
// the changes: inotify (Linux, watchers_inotify.go) and snapshots compared
// when kqueue reports a change or on a timer (watchers_scan.go).
// sysWatchStart, one per system, picks the mechanism of each watcher.
// watchState and watcherObj are defined per system too, each made of the
// common part below and what inotify needs on Linux.

// watcherCommon is the part of watcherObj every system has.
type watcherCommon struct {
	base      string // the directory watched: path with its links followed
	given     string // path as given, reported as BaseDirectory
	recursive bool
	cb        FileChangesCallback
	ended     bool
	scan      *scanWatch // the snapshot watcher; nil when inotify serves it
}

func (l *loop) initWatchState() { l.initScanState() }

func (l *loop) watchDirectory(path string, recursive bool, cb FileChangesCallback) (handle, error) {
	if l.disposed {
		return 0, ErrDisposed
	}
	if cb == nil {
		return 0, ErrNotSupported
	}
	base, err := watchTarget(path)
	if err != nil {
		return 0, &os.PathError{Op: "watch", Path: path, Err: err}
	}
	h, e := l.watchers.alloc(kindWatcher)
	if e == nil {
		return 0, ErrTooManyHandles
	}
	e.v = watcherObj{watcherCommon: watcherCommon{base: base, given: path, recursive: recursive, cb: cb}}
	if err := l.sysWatchStart(h, e); err != nil {
		l.watchers.release(h, e)
		return 0, &os.PathError{Op: "watch", Path: path, Err: err}
	}
	l.waiters++
	return h, nil
}

// watchReport queues change c for watcher h's callback, unless the watcher
// is gone or has ended; the callback runs once the work that found the
// change is done (see changeQueue).
func (l *loop) watchReport(h handle, c FileChange) {
	e := l.watchers.get(h, kindWatcher)
	if e == nil || e.v.ended {
		return
	}
	c.BaseDirectory = e.v.given
	l.reports++
	l.queueChange(h, c)
}

// watching returns watcher h if it is still live and watching.
func (l *loop) watching(h handle) *entry[watcherObj] {
	if e := l.watchers.get(h, kindWatcher); e != nil && !e.v.ended {
		return e
	}
	return nil
}

// watchBaseGone reports that watcher h's directory went away, and ends it.
func (l *loop) watchBaseGone(h handle) {
	l.watchReport(h, FileChange{Kind: FileChangeRemoved, IsDirectory: true})
	if e := l.watchers.get(h, kindWatcher); e != nil {
		l.watchEnd(h, e)
	}
}

// watchEnd stops a watcher for good; its handle stays until released.
func (l *loop) watchEnd(h handle, e *entry[watcherObj]) {
	if e.v.ended {
		return
	}
	l.sysWatchStop(h, e)
	e.v.ended = true
	l.waiters--
}

// watchFree stops the watcher and frees its entry.
func (l *loop) watchFree(h handle, e *entry[watcherObj]) {
	l.watchEnd(h, e)
	l.watchers.release(h, e)
}

func (l *loop) disposeWatchers() { l.watchers.each(l.watchFree) }

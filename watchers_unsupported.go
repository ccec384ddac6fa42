//go:build unix && !linux

package eventcore

// Directory watching is built on inotify (watchers_inotify.go); systems
// without it have no watcher mechanism yet (kqueue's EVFILT_VNODE, with
// polling where a tree needs it, is the way there), so WatchDirectory
// fails with ErrNotSupported and no watcher handle ever exists.

// watchState is empty: without a watcher mechanism there is nothing to
// keep. (sysLoop embeds it on every POSIX system.)
type watchState struct{}

type watcherObj struct{}

func (l *loop) initWatchState() { l.watchState = watchState{} }

func (l *loop) watchDirectory(string, bool, FileChangesCallback) (handle, error) {
	if l.disposed {
		return 0, ErrDisposed
	}
	return 0, ErrNotSupported
}

// watchFree is never called: no watcher handle exists.
func (l *loop) watchFree(h handle, e *entry[watcherObj]) { l.watchers.release(h, e) }
func (l *loop) watchReady()                              {}
func (l *loop) disposeWatchers()                         {}

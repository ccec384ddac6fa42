//go:build unix && !linux

package eventcore

// Without inotify every directory watcher is a snapshot watcher
// (watchers_scan.go): told of changes by kqueue's EVFILT_VNODE with the
// kqueue driver, rescanned on a timer with the poll driver.

type watchState struct {
	scanState // watchers_scan.go
}

type watcherObj struct {
	watcherCommon // watchers_posix.go
}

func (l *loop) sysWatchStart(h handle, e *entry[watcherObj]) error { return l.scanStart(h, e) }
func (l *loop) sysWatchStop(h handle, e *entry[watcherObj])        { l.scanStop(h, e) }
func (l *loop) sysWatchReady(h handle)                             { l.scanReady(h) }

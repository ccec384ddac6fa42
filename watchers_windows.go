package eventcore

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/windows"
)

// Directory watchers on the winapi driver: ReadDirectoryChangesW on the
// directory, overlapped, completed by the driver's completion routine like
// every other operation. Windows watches a whole tree natively, so a
// recursive watcher follows new and moved sub-directories with no work of
// its own. A removed entry cannot be looked at any more, so whether it was
// a directory comes from the set of directories the watcher knows (seen at
// the start, and added since).

type watcherObj struct {
	dh        windows.Handle // the directory, opened for listing
	base      string
	recursive bool
	cb        FileChangesCallback
	buf       []byte // what ReadDirectoryChangesW fills
	op        *winOp // the read in flight
	watching  bool   // counts as a waiter
	dirs      map[string]bool
}

const (
	fileListDirectory     = 0x1
	fileNotifyAll         = 0x1 | 0x2 | 0x4 | 0x8 | 0x10 | 0x40 // names, attributes, size, last write, creation
	fileActionAdded       = 1
	fileActionRemoved     = 2
	fileActionModified    = 3
	fileActionRenamedOld  = 4
	fileActionRenamedNew  = 5
	watchBufferSize       = 64 << 10
	errNotifyEnumDir      = windows.ERROR_NOTIFY_ENUM_DIR
	errorDeletePending    = 303
	fileNotifyHeaderBytes = 12
)

var procReadDirectoryChanges = modkernel32.NewProc("ReadDirectoryChangesW")

func (l *loop) watchDirectory(path string, recursive bool, cb FileChangesCallback) (handle, error) {
	if l.disposed {
		return 0, ErrDisposed
	}
	st, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	if !st.IsDir() {
		return 0, &os.PathError{Op: "watch", Path: path, Err: syscall.ENOTDIR}
	}
	p, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return 0, err
	}
	dh, err := windows.CreateFile(p, fileListDirectory,
		windows.FILE_SHARE_READ|windows.FILE_SHARE_WRITE|windows.FILE_SHARE_DELETE, nil, windows.OPEN_EXISTING,
		windows.FILE_FLAG_BACKUP_SEMANTICS|windows.FILE_FLAG_OVERLAPPED, 0)
	if err != nil {
		return 0, &os.PathError{Op: "watch", Path: path, Err: err}
	}
	h, e := l.watchers.alloc(kindWatcher)
	if e == nil {
		windows.CloseHandle(dh)
		return 0, ErrTooManyHandles
	}
	e.v = watcherObj{dh: dh, base: path, recursive: recursive, cb: cb, buf: make([]byte, watchBufferSize), dirs: map[string]bool{}}
	filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == path {
			return nil
		}
		if d.IsDir() {
			rel, _ := filepath.Rel(path, p)
			e.v.dirs[filepath.ToSlash(rel)] = true
			if !recursive {
				return filepath.SkipDir
			}
		}
		return nil
	})
	if err := l.watchRead(h, e); err != nil {
		windows.CloseHandle(dh)
		l.watchers.release(h, e)
		return 0, &os.PathError{Op: "watch", Path: path, Err: err}
	}
	e.v.watching = true
	l.waiters++
	return h, nil
}

// watchRead leaves a ReadDirectoryChangesW waiting for the next changes.
func (l *loop) watchRead(h handle, e *entry[watcherObj]) error {
	op := l.newOp(h, opWatch)
	op.keep = e.v.buf
	sub := uintptr(0)
	if e.v.recursive {
		sub = 1
	}
	r, _, err := syscall.SyscallN(procReadDirectoryChanges.Addr(), uintptr(e.v.dh), uintptr(unsafe.Pointer(&e.v.buf[0])),
		uintptr(len(e.v.buf)), sub, fileNotifyAll, 0, uintptr(unsafe.Pointer(&op.ov)), completionRoutine)
	if r == 0 {
		l.putOp(op)
		return errnoErr(err)
	}
	l.started(op)
	e.v.op = op
	return nil
}

// watchDone delivers the changes a completed read reports, and reads on.
func (l *loop) watchDone(op *winOp) bool {
	e := l.watchers.get(op.h, kindWatcher)
	h, n, status := op.h, int(op.n), syscall.Errno(op.err)
	l.putOp(op)
	if e == nil || !e.v.watching {
		return false
	}
	e.v.op = nil
	switch {
	case status == 0 && n == 0, status == errNotifyEnumDir:
		// The system's buffer overflowed: the changes are lost.
		l.watchReport(h, FileChange{Kind: FileChangeOverflow, BaseDirectory: e.v.base})
	case status != 0:
		l.watchEnd(h, e, status)
		return true
	default:
		l.watchParse(h, e, e.v.buf[:n])
	}
	if e = l.watchers.get(h, kindWatcher); e == nil || !e.v.watching {
		return true
	}
	if _, err := os.Stat(e.v.base); err != nil {
		l.watchEnd(h, e, err)
		return true
	}
	if err := l.watchRead(h, e); err != nil {
		l.watchEnd(h, e, err)
	}
	return true
}

// watchParse reports the FILE_NOTIFY_INFORMATION records in b.
func (l *loop) watchParse(h handle, e *entry[watcherObj], b []byte) {
	base := e.v.base
	for len(b) >= fileNotifyHeaderBytes {
		next := *(*uint32)(unsafe.Pointer(&b[0]))
		action := *(*uint32)(unsafe.Pointer(&b[4]))
		nameLen := int(*(*uint32)(unsafe.Pointer(&b[8])))
		if fileNotifyHeaderBytes+nameLen > len(b) {
			return
		}
		name := windows.UTF16ToString(unsafe.Slice((*uint16)(unsafe.Pointer(&b[fileNotifyHeaderBytes])), nameLen/2))
		rel := strings.ReplaceAll(name, `\`, "/")
		ch := FileChange{BaseDirectory: base}
		if i := strings.LastIndexByte(rel, '/'); i >= 0 {
			ch.Directory, ch.Name = rel[:i], rel[i+1:]
		} else {
			ch.Name = rel
		}
		switch action {
		case fileActionAdded, fileActionRenamedNew, fileActionModified:
			ch.Kind = FileChangeAdded
			if action == fileActionModified {
				ch.Kind = FileChangeModified
			}
			if st, err := os.Lstat(filepath.Join(base, filepath.FromSlash(rel))); err == nil && st.IsDir() {
				ch.IsDirectory = true
				e.v.dirs[rel] = true
			} else if err != nil {
				ch.IsDirectory = e.v.dirs[rel]
			}
		default: // removed, renamed away
			ch.Kind = FileChangeRemoved
			ch.IsDirectory = e.v.dirs[rel]
			if ch.IsDirectory {
				prefix := rel + "/"
				for d := range e.v.dirs {
					if d == rel || strings.HasPrefix(d, prefix) {
						delete(e.v.dirs, d)
					}
				}
			}
		}
		l.watchReport(h, ch)
		if e = l.watchers.get(h, kindWatcher); e == nil || !e.v.watching || next == 0 || int(next) > len(b) {
			return
		}
		b = b[next:]
	}
}

func (l *loop) watchReport(h handle, ch FileChange) {
	e := l.watchers.get(h, kindWatcher)
	if e == nil || e.v.cb == nil {
		return
	}
	l.depth++
	e.v.cb(WatcherID{h}, ch)
	l.depth--
}

// watchEnd stops a watcher whose directory went away (or failed): its
// callback hears of the removal of the watched directory itself.
func (l *loop) watchEnd(h handle, e *entry[watcherObj], err error) {
	e.err = err
	l.watchStop(e)
	l.watchReport(h, FileChange{Kind: FileChangeRemoved, BaseDirectory: e.v.base})
}

func (l *loop) watchStop(e *entry[watcherObj]) {
	if e.v.watching {
		e.v.watching = false
		l.waiters--
	}
	if e.v.op != nil {
		e.v.op.h = 0
		e.v.op = nil
	}
	if e.v.dh != windows.InvalidHandle {
		windows.CloseHandle(e.v.dh) // cancels the read in flight
		e.v.dh = windows.InvalidHandle
	}
}

// watchFree stops the watcher and frees its entry.
func (l *loop) watchFree(h handle, e *entry[watcherObj]) {
	l.watchStop(e)
	l.watchers.release(h, e)
}

func (l *loop) disposeWatchers() { l.watchers.each(l.watchFree) }

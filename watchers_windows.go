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
// the start, and added since). Windows tells a watcher nothing of its own
// directory being renamed or removed, so a second, non-recursive read on
// the parent directory listens for the watched directory's name going
// away. When the system's buffer overflows, the tree needs no new watch
// (Windows watches it whole), but the set of directories is read again
// before the overflow is reported.

type watcherObj struct {
	dh        windows.Handle // the directory, opened for listing
	base      string         // the directory watched: path with its links followed
	given     string         // path as given, reported as BaseDirectory
	recursive bool
	cb        FileChangesCallback
	buf       []byte         // what ReadDirectoryChangesW fills
	op        *winOp         // the read in flight
	ph        windows.Handle // the parent directory, InvalidHandle if not watched
	pop       *winOp         // the read in flight on the parent
	pbuf      []byte
	watching  bool            // counts as a waiter
	dirs      map[string]bool // the tree's directories, relative to base, slash-separated
}

const (
	fileListDirectory       = 0x1
	fileNotifyAll           = 0x1 | 0x2 | 0x4 | 0x8 | 0x10 | 0x40 // names, attributes, size, last write, creation
	fileActionAdded         = 1
	fileActionRemoved       = 2
	fileActionModified      = 3
	fileActionRenamedOld    = 4
	fileActionRenamedNew    = 5
	watchBufferSize         = 64 << 10
	watchParentBufferSize   = 4 << 10
	fileNotifyChangeDirName = 0x2
	errNotifyEnumDir        = windows.ERROR_NOTIFY_ENUM_DIR
	errorDeletePending      = 303
	fileNotifyHeaderBytes   = 12
)

var procReadDirectoryChanges = modkernel32.NewProc("ReadDirectoryChangesW")

func (l *loop) watchDirectory(path string, recursive bool, cb FileChangesCallback) (handle, error) {
	if l.disposed {
		return 0, ErrDisposed
	}
	if cb == nil {
		return 0, ErrNotSupported
	}
	base, err := watchTarget(path)
	var p *uint16
	if err == nil {
		p, err = windows.UTF16PtrFromString(base)
	}
	var dh windows.Handle
	if err == nil {
		dh, err = windows.CreateFile(p, fileListDirectory,
			windows.FILE_SHARE_READ|windows.FILE_SHARE_WRITE|windows.FILE_SHARE_DELETE, nil, windows.OPEN_EXISTING,
			windows.FILE_FLAG_BACKUP_SEMANTICS|windows.FILE_FLAG_OVERLAPPED, 0)
	}
	if err != nil {
		return 0, &os.PathError{Op: "watch", Path: path, Err: err}
	}
	h, e := l.watchers.alloc(kindWatcher)
	if e == nil {
		windows.CloseHandle(dh)
		return 0, ErrTooManyHandles
	}
	e.v = watcherObj{dh: dh, ph: windows.InvalidHandle, base: base, given: path, recursive: recursive, cb: cb,
		buf: make([]byte, watchBufferSize), dirs: map[string]bool{}}
	watchFindDirs(e)
	if err := l.watchRead(h, e); err != nil {
		windows.CloseHandle(dh)
		l.watchers.release(h, e)
		return 0, &os.PathError{Op: "watch", Path: path, Err: err}
	}
	l.watchParent(h, e)
	e.v.watching = true
	l.waiters++
	return h, nil
}

// watchFindDirs reads the set of directories in watcher e's directory,
// and, if recursive, in its whole tree. Symbolic links and junctions are
// entries, not directories: they are not followed (nor does Windows watch
// what they lead to).
func watchFindDirs(e *entry[watcherObj]) {
	clear(e.v.dirs)
	base := e.v.base
	filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == base {
			return nil
		}
		if d.IsDir() {
			rel, _ := filepath.Rel(base, p)
			e.v.dirs[filepath.ToSlash(rel)] = true
			if !e.v.recursive {
				return filepath.SkipDir
			}
		}
		return nil
	})
}

// watchParent starts listening on the parent directory for the watched
// directory's name going away. Without a parent (a drive's root), or
// without access to it, the watcher goes on without.
func (l *loop) watchParent(h handle, e *entry[watcherObj]) {
	parent := filepath.Dir(e.v.base)
	p, err := windows.UTF16PtrFromString(parent)
	if parent == e.v.base || err != nil {
		return
	}
	ph, err := windows.CreateFile(p, fileListDirectory,
		windows.FILE_SHARE_READ|windows.FILE_SHARE_WRITE|windows.FILE_SHARE_DELETE, nil, windows.OPEN_EXISTING,
		windows.FILE_FLAG_BACKUP_SEMANTICS|windows.FILE_FLAG_OVERLAPPED, 0)
	if err != nil {
		return
	}
	e.v.ph, e.v.pbuf = ph, make([]byte, watchParentBufferSize)
	if e.v.pop, err = l.readChanges(h, opWatchParent, ph, e.v.pbuf, false, fileNotifyChangeDirName); err != nil {
		windows.CloseHandle(ph)
		e.v.ph = windows.InvalidHandle
	}
}

// watchRead leaves a ReadDirectoryChangesW waiting for the next changes.
func (l *loop) watchRead(h handle, e *entry[watcherObj]) error {
	op, err := l.readChanges(h, opWatch, e.v.dh, e.v.buf, e.v.recursive, fileNotifyAll)
	if err == nil {
		e.v.op = op
	}
	return err
}

// readChanges starts an overlapped ReadDirectoryChangesW on directory dh
// into buf, completed as an op of kind k for watcher h.
func (l *loop) readChanges(h handle, k opKind, dh windows.Handle, buf []byte, subtree bool, filter uint32) (*winOp, error) {
	op := l.newOp(h, k)
	op.keep = buf
	sub := uintptr(0)
	if subtree {
		sub = 1
	}
	r, _, err := syscall.SyscallN(procReadDirectoryChanges.Addr(), uintptr(dh), uintptr(unsafe.Pointer(&buf[0])),
		uintptr(len(buf)), sub, uintptr(filter), 0, uintptr(unsafe.Pointer(&op.ov)), completionRoutine)
	if r == 0 {
		l.putOp(op)
		return nil, errnoErr(err)
	}
	l.started(op)
	return op, nil
}

// watchParentDone looks for the watched directory's name among the names
// that went away from its parent, and reads on.
func (l *loop) watchParentDone(op *winOp) bool {
	e := l.watchers.get(op.h, kindWatcher)
	h, n, status := op.h, int(op.n), op.err
	l.putOp(op)
	if e == nil || !e.v.watching || e.v.pop != op {
		return false
	}
	e.v.pop = nil
	name := filepath.Base(e.v.base)
	gone := status != 0 || n == 0 // failed or overflowed: look at the base itself
	for b := e.v.pbuf[:n]; !gone && len(b) >= fileNotifyHeaderBytes; {
		next, action, rec := notifyRecord(b)
		if rec == "" {
			break
		}
		gone = (action == fileActionRemoved || action == fileActionRenamedOld) && strings.EqualFold(rec, name)
		if next == 0 || int(next) > len(b) {
			break
		}
		b = b[next:]
	}
	if gone && !l.sameDirectory(e) {
		l.watchEnd(h, e, windows.ERROR_FILE_NOT_FOUND)
		return true
	}
	if status != 0 {
		return false // the parent went away too: the base's own read will tell
	}
	if e.v.pop, _ = l.readChanges(h, opWatchParent, e.v.ph, e.v.pbuf, false, fileNotifyChangeDirName); e.v.pop == nil {
		windows.CloseHandle(e.v.ph)
		e.v.ph = windows.InvalidHandle
	}
	return false
}

// sameDirectory reports whether the watched path still names the directory
// the watcher has open: after a rename, another may stand at the path.
func (l *loop) sameDirectory(e *entry[watcherObj]) bool {
	p, err := windows.UTF16PtrFromString(e.v.base)
	if err != nil {
		return false
	}
	fh, err := windows.CreateFile(p, 0, windows.FILE_SHARE_READ|windows.FILE_SHARE_WRITE|windows.FILE_SHARE_DELETE,
		nil, windows.OPEN_EXISTING, windows.FILE_FLAG_BACKUP_SEMANTICS, 0)
	if err != nil {
		return false
	}
	defer windows.CloseHandle(fh)
	var a, b windows.ByHandleFileInformation
	if windows.GetFileInformationByHandle(fh, &a) != nil || windows.GetFileInformationByHandle(e.v.dh, &b) != nil {
		return true // cannot tell: keep watching
	}
	return a.VolumeSerialNumber == b.VolumeSerialNumber && a.FileIndexHigh == b.FileIndexHigh && a.FileIndexLow == b.FileIndexLow
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
		// The system's buffer overflowed: the changes are lost, and with
		// them which directories came and went.
		watchFindDirs(e)
		l.watchReport(h, FileChange{Kind: FileChangeOverflow})
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

// notifyRecord decodes the FILE_NOTIFY_INFORMATION record at the start of
// b: the offset of the next one (0 for none), the action and the name,
// "" if the record is cut short.
func notifyRecord(b []byte) (next, action uint32, name string) {
	next = *(*uint32)(unsafe.Pointer(&b[0]))
	action = *(*uint32)(unsafe.Pointer(&b[4]))
	nameLen := int(*(*uint32)(unsafe.Pointer(&b[8])))
	if nameLen == 0 || fileNotifyHeaderBytes+nameLen > len(b) {
		return 0, 0, ""
	}
	return next, action, windows.UTF16ToString(unsafe.Slice((*uint16)(unsafe.Pointer(&b[fileNotifyHeaderBytes])), nameLen/2))
}

// watchParse reports the FILE_NOTIFY_INFORMATION records in b.
func (l *loop) watchParse(h handle, e *entry[watcherObj], b []byte) {
	base := e.v.base
	for len(b) >= fileNotifyHeaderBytes {
		next, action, name := notifyRecord(b)
		if name == "" {
			return
		}
		rel := strings.ReplaceAll(name, `\`, "/")
		ch := FileChange{}
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

// watchReport queues change ch for watcher h's callback, with the base
// directory as the watcher was given it; the callback runs once the
// completion that found it is processed, and the watcher reads on (see
// changeQueue).
func (l *loop) watchReport(h handle, ch FileChange) {
	if e := l.watchers.get(h, kindWatcher); e != nil && e.v.cb != nil {
		ch.BaseDirectory = e.v.given
		l.queueChange(h, ch)
	}
}

// watchEnd stops a watcher whose directory went away (or failed): its
// callback hears of the removal of the watched directory itself.
func (l *loop) watchEnd(h handle, e *entry[watcherObj], err error) {
	e.setErr(err)
	l.watchStop(e)
	l.watchReport(h, FileChange{Kind: FileChangeRemoved})
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
	if e.v.pop != nil {
		e.v.pop.h = 0
		e.v.pop = nil
	}
	if e.v.dh != windows.InvalidHandle {
		windows.CloseHandle(e.v.dh) // cancels the read in flight
		e.v.dh = windows.InvalidHandle
	}
	if e.v.ph != windows.InvalidHandle {
		windows.CloseHandle(e.v.ph)
		e.v.ph = windows.InvalidHandle
	}
}

// watchFree stops the watcher and frees its entry.
func (l *loop) watchFree(h handle, e *entry[watcherObj]) {
	l.watchStop(e)
	l.watchers.release(h, e)
}

func (l *loop) disposeWatchers() { l.watchers.each(l.watchFree) }

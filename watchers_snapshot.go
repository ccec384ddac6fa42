//go:build unix

package eventcore

import (
	"os"
	"sort"

	"golang.org/x/sys/unix"
)

// Directory snapshots: what a snapshot watcher (watchers_scan.go) keeps of
// a directory, and the comparison of two snapshots that turns "this
// directory may have changed" into changes with names. diffSnapshots is a
// pure function, tested on every system.

// dirEntry is what a snapshot keeps of one directory entry: enough to tell
// whether the name now stands for another file, and whether the file's data
// or attributes changed.
type dirEntry struct {
	ino          uint64
	mode         uint32 // file type and permission bits, as stat gives them
	uid, gid     uint32
	size         int64
	mtime, ctime int64 // nanoseconds since the epoch
}

// dirSnapshot maps the names in a directory to their entries.
type dirSnapshot map[string]dirEntry

func (e dirEntry) isDir() bool     { return e.mode&unix.S_IFMT == unix.S_IFDIR }
func (e dirEntry) isRegular() bool { return e.mode&unix.S_IFMT == unix.S_IFREG }

// sameFile reports whether e and o are the same file: a name whose inode or
// type changed was removed and made again (or another file was moved onto
// it), which is reported as removed + added.
func (e dirEntry) sameFile(o dirEntry) bool {
	return e.ino == o.ino && e.mode&unix.S_IFMT == o.mode&unix.S_IFMT
}

// modifiedTo reports whether the same file, seen as e and then as o, was
// modified. A directory's size and times change whenever an entry is added
// to it or removed, which its own watch reports; only its permissions and
// owner count. A file's change time moves with any change to its
// attributes (mode, owner, links), as inotify's IN_ATTRIB does.
func (e dirEntry) modifiedTo(o dirEntry) bool {
	if e.isDir() {
		return e.mode != o.mode || e.uid != o.uid || e.gid != o.gid
	}
	return e != o
}

// entryChange is one change diffSnapshots found in a directory.
type entryChange struct {
	kind  FileChangeKind
	name  string
	isDir bool
}

// diffSnapshots appends to out the changes that turn old into cur: first
// the removals, then the additions and modifications, each in name order.
// A name that stands for another file in cur (see sameFile) is removed and
// added again, so that a replaced directory is forgotten before its
// replacement is watched.
func diffSnapshots(old, cur dirSnapshot, out []entryChange) []entryChange {
	for _, name := range sortedNames(old) {
		o := old[name]
		if c, ok := cur[name]; !ok || !o.sameFile(c) {
			out = append(out, entryChange{kind: FileChangeRemoved, name: name, isDir: o.isDir()})
		}
	}
	for _, name := range sortedNames(cur) {
		c := cur[name]
		o, ok := old[name]
		switch {
		case !ok || !o.sameFile(c):
			out = append(out, entryChange{kind: FileChangeAdded, name: name, isDir: c.isDir()})
		case o.modifiedTo(c):
			out = append(out, entryChange{kind: FileChangeModified, name: name, isDir: c.isDir()})
		}
	}
	return out
}

func sortedNames(s dirSnapshot) []string {
	names := make([]string, 0, len(s))
	for name := range s {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// fileID tells one file from another: its device and inode.
type fileID struct{ dev, ino uint64 }

// The conversions absorb the field types, which differ between systems
// (Mode is 16 bits on some BSDs, Dev is signed on darwin and OpenBSD).
func entryOf(st *unix.Stat_t) dirEntry {
	return dirEntry{
		ino:   uint64(st.Ino),
		mode:  uint32(st.Mode),
		uid:   st.Uid,
		gid:   st.Gid,
		size:  st.Size,
		mtime: st.Mtim.Nano(),
		ctime: st.Ctim.Nano(),
	}
}

func idOf(st *unix.Stat_t) fileID { return fileID{dev: uint64(st.Dev), ino: uint64(st.Ino)} }

// readSnapshot reads the directory at path into snap, which it clears
// first, and returns the directory's identity. A final symbolic link is not
// followed. An entry that vanishes while the directory is read is left out.
func readSnapshot(path string, snap dirSnapshot) (fileID, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fileID{}, err
	}
	f := os.NewFile(uintptr(fd), path) // for Readdirnames, which knows each system's way
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fileID{}, err
	}
	id := idOf(&st)
	names, err := f.Readdirnames(-1)
	if err != nil {
		return fileID{}, err
	}
	clear(snap)
	for _, name := range names {
		// Relative to the descriptor: the entries of this directory, even if
		// it is moved meanwhile.
		if unix.Fstatat(fd, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil {
			snap[name] = entryOf(&st)
		}
	}
	return id, nil
}

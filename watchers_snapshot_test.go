//go:build unix

package eventcore

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"golang.org/x/sys/unix"
)

// The snapshot watcher's core, run on every system: the comparison of two
// snapshots of a directory, and the reading of one.

func fileEntry(ino uint64, size, mtime int64) dirEntry {
	return dirEntry{ino: ino, mode: unix.S_IFREG | 0o644, size: size, mtime: mtime, ctime: mtime}
}

func dirEntryOf(ino uint64, mtime int64) dirEntry {
	return dirEntry{ino: ino, mode: unix.S_IFDIR | 0o755, size: 4096, mtime: mtime, ctime: mtime}
}

func TestDiffSnapshots(t *testing.T) {
	f := fileEntry(10, 3, 100)
	d := dirEntryOf(20, 100)
	with := func(e dirEntry, change func(*dirEntry)) dirEntry { change(&e); return e }
	added := func(name string, isDir bool) entryChange { return entryChange{FileChangeAdded, name, isDir} }
	removed := func(name string, isDir bool) entryChange { return entryChange{FileChangeRemoved, name, isDir} }
	modified := func(name string, isDir bool) entryChange { return entryChange{FileChangeModified, name, isDir} }
	for _, tc := range []struct {
		what     string
		old, cur dirSnapshot
		want     []entryChange
	}{
		{"both empty", dirSnapshot{}, dirSnapshot{}, nil},
		{"nothing changed", dirSnapshot{"f": f, "d": d}, dirSnapshot{"f": f, "d": d}, nil},
		{"file and directory added", dirSnapshot{}, dirSnapshot{"f": f, "d": d},
			[]entryChange{added("d", true), added("f", false)}},
		{"file and directory removed", dirSnapshot{"f": f, "d": d}, dirSnapshot{},
			[]entryChange{removed("d", true), removed("f", false)}},
		{"renamed: same inode, new name", dirSnapshot{"a": f}, dirSnapshot{"b": f},
			[]entryChange{removed("a", false), added("b", false)}},
		{"file written: size and times", dirSnapshot{"f": f},
			dirSnapshot{"f": with(f, func(e *dirEntry) { e.size, e.mtime, e.ctime = 9, 200, 200 })},
			[]entryChange{modified("f", false)}},
		{"file rewritten in place: same size, new time", dirSnapshot{"f": f},
			dirSnapshot{"f": with(f, func(e *dirEntry) { e.mtime = 101 })},
			[]entryChange{modified("f", false)}},
		{"file chmod: change time and mode", dirSnapshot{"f": f},
			dirSnapshot{"f": with(f, func(e *dirEntry) { e.mode, e.ctime = unix.S_IFREG|0o600, 300 })},
			[]entryChange{modified("f", false)}},
		{"file chown", dirSnapshot{"f": f},
			dirSnapshot{"f": with(f, func(e *dirEntry) { e.uid = 1000 })},
			[]entryChange{modified("f", false)}},
		{"directory's entries changed: its times are not a modification", dirSnapshot{"d": d},
			dirSnapshot{"d": with(d, func(e *dirEntry) { e.size, e.mtime, e.ctime = 8192, 500, 500 })}, nil},
		{"directory chmod", dirSnapshot{"d": d},
			dirSnapshot{"d": with(d, func(e *dirEntry) { e.mode, e.ctime = unix.S_IFDIR|0o700, 600 })},
			[]entryChange{modified("d", true)}},
		{"replaced by another file: new inode", dirSnapshot{"f": f},
			dirSnapshot{"f": with(f, func(e *dirEntry) { e.ino = 11 })},
			[]entryChange{removed("f", false), added("f", false)}},
		{"file replaced by a directory, same inode number", dirSnapshot{"x": f},
			dirSnapshot{"x": with(d, func(e *dirEntry) { e.ino = f.ino })},
			[]entryChange{removed("x", false), added("x", true)}},
		{"removals first, then the rest, each by name",
			dirSnapshot{"b": f, "c": fileEntry(12, 0, 1), "z": d},
			dirSnapshot{"a": fileEntry(13, 0, 1), "c": fileEntry(12, 5, 2), "z": dirEntryOf(21, 1)},
			[]entryChange{removed("b", false), removed("z", true), added("a", false), modified("c", false), added("z", true)}},
	} {
		if got := diffSnapshots(tc.old, tc.cur, nil); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s:\n got %v\nwant %v", tc.what, got, tc.want)
		}
	}
	// Appends to what it is given.
	prefix := []entryChange{added("earlier", false)}
	got := diffSnapshots(dirSnapshot{}, dirSnapshot{"f": f}, prefix)
	if want := []entryChange{added("earlier", false), added("f", false)}; !reflect.DeepEqual(got, want) {
		t.Errorf("appending: %v, want %v", got, want)
	}
}

func TestReadSnapshot(t *testing.T) {
	checkNoFDLeak(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "file"), []byte("12345"), 0o640)
	os.Mkdir(filepath.Join(dir, "sub"), 0o755)
	os.Symlink("sub", filepath.Join(dir, "link"))
	snap := dirSnapshot{"stale": fileEntry(1, 1, 1)}
	id, err := readSnapshot(dir, snap)
	if err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	unix.Stat(dir, &st)
	if id != idOf(&st) {
		t.Errorf("identity %v, want %v", id, idOf(&st))
	}
	if len(snap) != 3 {
		t.Fatalf("snapshot %v: want file, sub and link only", snap)
	}
	if e := snap["file"]; !e.isRegular() || e.size != 5 || e.mode&0o777 != 0o640 || e.mtime == 0 {
		t.Errorf("file: %+v", e)
	}
	if !snap["sub"].isDir() {
		t.Errorf("sub: %+v", snap["sub"])
	}
	if e := snap["link"]; e.isDir() || e.isRegular() || e.ino == snap["sub"].ino {
		t.Errorf("the symbolic link was followed: %+v", e)
	}
	// A fresh read of an unchanged directory differs in nothing.
	again := dirSnapshot{}
	readSnapshot(dir, again)
	if ch := diffSnapshots(snap, again, nil); len(ch) != 0 {
		t.Errorf("unchanged directory: %v", ch)
	}
	os.WriteFile(filepath.Join(dir, "file"), []byte("123456"), 0o640)
	os.Remove(filepath.Join(dir, "link"))
	readSnapshot(dir, again)
	want := []entryChange{{FileChangeRemoved, "link", false}, {FileChangeModified, "file", false}}
	if ch := diffSnapshots(snap, again, nil); !reflect.DeepEqual(ch, want) {
		t.Errorf("after a write and a removal: %v, want %v", ch, want)
	}
	// Not a directory, a symbolic link to one, nothing: errors.
	for _, p := range []string{filepath.Join(dir, "file"), filepath.Join(dir, "missing")} {
		if _, err := readSnapshot(p, dirSnapshot{}); err == nil {
			t.Errorf("readSnapshot(%s) succeeded", p)
		}
	}
	os.Symlink("sub", filepath.Join(dir, "link"))
	if _, err := readSnapshot(filepath.Join(dir, "link"), dirSnapshot{}); err == nil {
		t.Error("readSnapshot followed a symbolic link to a directory")
	}
}

//go:build unix

package eventcore

import "testing"

func TestFDMap(t *testing.T) {
	var m fdMap[handle]
	if m.get(3) != 0 || m.ptr(3) != nil || m.ptr(-1) != nil {
		t.Fatal("an empty map has a slot")
	}
	fds := []int{0, 5, fdMapChunk - 1, fdMapChunk, 3*fdMapChunk + 7}
	for i, fd := range fds {
		*m.at(fd) = handle(i + 1)
	}
	first := m.ptr(5)
	for i, fd := range fds {
		if got := m.get(fd); got != handle(i+1) {
			t.Errorf("fd %d holds %d, want %d", fd, got, i+1)
		}
	}
	if m.get(4*fdMapChunk) != 0 || m.ptr(4*fdMapChunk) != nil || m.get(-5) != 0 {
		t.Error("a descriptor past the map has a value")
	}
	*m.at(100 * fdMapChunk) = 9
	if m.ptr(5) != first {
		t.Error("growing the map moved a slot")
	}
	var seen []int
	m.each(func(fd int, v *handle) {
		if *v != 0 {
			seen = append(seen, fd)
		}
	})
	want := append(fds, 100*fdMapChunk)
	if len(seen) != len(want) {
		t.Fatalf("each saw %v, want %v", seen, want)
	}
	for i := range want {
		if seen[i] != want[i] {
			t.Fatalf("each saw %v, want %v", seen, want)
		}
	}
}

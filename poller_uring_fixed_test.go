//go:build linux

package eventcore

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// ringSlots returns the slots of the ring's file table that hold a file,
// as the kernel lists them in the ring's fdinfo.
func ringSlots(t *testing.T, p *uringPoller) []int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/fdinfo/" + strconv.Itoa(p.r.fd))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "UserFiles:")
	if !ok {
		t.Fatalf("no UserFiles in the ring's fdinfo:\n%s", b)
	}
	rest, _, _ = strings.Cut(rest, "UserBufs:")
	var slots []int
	for _, line := range strings.Split(rest, "\n")[1:] {
		if slot, _, ok := strings.Cut(strings.TrimSpace(line), ":"); ok {
			n, err := strconv.Atoi(slot)
			if err != nil {
				t.Fatalf("fdinfo line %q", line)
			}
			slots = append(slots, n)
		}
	}
	return slots
}

// sendThroughRing writes msg on sock, a socket adopted from the pair fds,
// and checks that the peer got it.
func sendThroughRing(t *testing.T, d *Driver, sock StreamSocket, fds [2]uintptr, msg string) {
	t.Helper()
	var w ioResult
	d.Sockets().Write(sock, []byte(msg), IOModeAll, w.cb)
	runUntil(t, d, "write", func() bool { return w.done })
	if w.status != IOStatusOK || w.n != len(msg) {
		t.Fatalf("write: %v, %d bytes of %d (%v)", w.status, w.n, len(msg), d.LastError(sock))
	}
	buf := make([]byte, len(msg)+1)
	n, err := syscall.Read(int(fds[1]), buf)
	if err != nil || string(buf[:n]) != msg {
		t.Fatalf("peer read %q, %v; want %q", buf[:max(n, 0)], err, msg)
	}
}

// On Linux 6.13 and later, a socket's sends name it by its slot in the
// ring's file table; releasing the socket empties the slot before the
// descriptor closes, so that its peer sees the end at once. A slot found
// empty by a send (its update failed) costs the send nothing: it goes by
// descriptor. A send whose start moves the poller to a new ring goes out
// there, once. A descriptor beyond the table goes by descriptor from the
// start.
func TestUringSendSlots(t *testing.T) {
	if !slices.Contains(Drivers(), "iouring") || !uringFixedFiles() {
		t.Skip("io_uring with registered files that close at once (Linux 6.13) is not available here")
	}
	t.Run("slot", func(t *testing.T) {
		d, p, sock, fds := uringSocket(t)
		s := d.Sockets()
		sendThroughRing(t, d, sock, fds, "through its slot")
		if slots := ringSlots(t, p); !slices.Equal(slots, []int{int(fds[0])}) {
			t.Fatalf("slots holding a file: %v, want [%d]", slots, fds[0])
		}
		sendThroughRing(t, d, sock, fds, "again")
		s.ReleaseRef(sock)
		if !peerClosed(fds[1]) {
			t.Fatal("the socket's slot kept it open after its release")
		}
		if slots := ringSlots(t, p); len(slots) != 0 {
			t.Fatalf("slots holding a file after the release: %v", slots)
		}
	})
	t.Run("emptied", func(t *testing.T) {
		d, p, sock, fds := uringSocket(t)
		s := d.Sockets()
		sendThroughRing(t, d, sock, fds, "first")
		// Empty the slot behind the poller's back, as a failed update
		// leaves it.
		p.r.prepFilesUpdate(p.sqe(), uint32(fds[0]), -1)
		if err := p.enter(0, 0, nil, false); err != nil {
			t.Fatal(err)
		}
		sendThroughRing(t, d, sock, fds, "by descriptor")
		if reg := p.regs.ptr(int(fds[0])); reg.file != fileRefused {
			t.Fatalf("slot state %d after a send found it empty, want %d", reg.file, fileRefused)
		}
		sendThroughRing(t, d, sock, fds, "by descriptor again")
		s.ReleaseRef(sock)
		if !peerClosed(fds[1]) {
			t.Fatal("socket open after its release")
		}
	})
	// The first send on the first ring goes on sock, whose slot is then
	// filled, or on another socket, which leaves sock's slot empty: the
	// move then comes when the send's start takes an entry for the slot's
	// update rather than for the send.
	for _, filled := range []bool{true, false} {
		t.Run(fmt.Sprintf("handover/filled=%v", filled), func(t *testing.T) { sendSlotHandover(t, filled) })
	}
	t.Run("beyond", func(t *testing.T) {
		defer func(n int) { uringFilesMax = n }(uringFilesMax)
		uringFilesMax = 1 // slot 0: stdin's number
		d, p, sock, fds := uringSocket(t)
		s := d.Sockets()
		sendThroughRing(t, d, sock, fds, "by descriptor")
		if p.r.files != 1 {
			t.Fatalf("file table of %d slots, want 1", p.r.files)
		}
		if slots := ringSlots(t, p); len(slots) != 0 {
			t.Fatalf("slots holding a file: %v", slots)
		}
		s.ReleaseRef(sock)
		if !peerClosed(fds[1]) {
			t.Fatal("socket open after its release")
		}
	})
}

// sendSlotHandover is TestUringSendSlots/handover, the slot of the socket
// filled on the first ring or not.
func sendSlotHandover(t *testing.T, filled bool) {
	d, p, sock, fds := uringSocket(t)
	s := d.Sockets()
	first, firstFDs := sock, fds
	if !filled {
		first, firstFDs = uringSocketOn(t, d)
	}
	done := make(chan bool)
	go func() { // the first ring, bound to this goroutine's thread
		d.Core().ProcessEvents(0) // takes the loop over
		var w ioResult
		s.Write(first, []byte("first"), IOModeAll, w.cb)
		for deadline := time.Now().Add(hangLimit); !w.done && time.Now().Before(deadline); {
			d.Core().ProcessEvents(10 * time.Millisecond)
		}
		done <- w.status == IOStatusOK && w.n == 5
	}()
	if !<-done {
		t.Fatal("first write failed")
	}
	buf := make([]byte, 16)
	if n, err := syscall.Read(int(firstFDs[1]), buf); err != nil || string(buf[:n]) != "first" {
		t.Fatalf("peer read %q, %v", buf[:max(n, 0)], err)
	}
	// A full submission queue makes the send's start submit it, which
	// this thread may not: the poller moves to a new ring then, in the
	// middle of the start, and the send must go out there once.
	d.Core().ProcessEvents(0) // takes the loop back, submitting nothing
	for p.r.sqe() != nil {
	}
	sendThroughRing(t, d, sock, fds, "second")
	if slots := ringSlots(t, p); !slices.Equal(slots, []int{int(fds[0])}) {
		t.Fatalf("the new ring's slots holding a file: %v, want [%d]", slots, fds[0])
	}
	syscall.SetNonblock(int(fds[1]), true)
	if n, err := syscall.Read(int(fds[1]), buf); err != syscall.EAGAIN {
		t.Fatalf("peer read %q, %v after the message, want nothing", buf[:max(n, 0)], err)
	}
	// The left ring's table goes with it, in the background.
	s.ReleaseRef(sock)
	for deadline := time.Now().Add(hangLimit); !peerClosed(fds[1]); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("socket not closed after its release, after the handover")
		}
	}
	if !filled {
		s.ReleaseRef(first)
	}
}

func TestKernelAtLeast(t *testing.T) {
	for _, c := range []struct {
		release string
		want    bool
	}{
		{"6.13.0", true},
		{"6.18.44-fc-v1272", true},
		{"6.13-rc1", true},
		{"7.0.1", true},
		{"6.12.9-arch1-1", false},
		{"6.1.0-31-amd64", false},
		{"5.19.0", false},
		{"6", false},
		{"", false},
		{"x.y", false},
	} {
		if got := kernelAtLeast(c.release, 6, 13); got != c.want {
			t.Errorf("kernelAtLeast(%q, 6, 13) = %v, want %v", c.release, got, c.want)
		}
	}
}

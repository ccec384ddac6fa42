//go:build linux

package eventcore

import (
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// Registered files for sends. A send through the ring
// (poller_uring_send.go) names its socket by a slot of the ring's file
// table rather than by descriptor, so the kernel takes no reference to the
// file for each send (releasing it, fput, was 1.1% of the samples in perf
// of the iouring echo server at 64 connections × 64 B). A descriptor's
// slot is its number. An IORING_OP_FILES_UPDATE queued before the socket's
// first send fills it: the kernel issues entries in order, and an update
// at once, so the send finds it. del empties it in the enter that cancels
// the descriptor's poll, before the descriptor is closed: a slot holds the
// file open, and the peer would not see the socket close. Polls and
// receives keep naming the descriptor: they take their reference once,
// when armed.
//
// The table is registered at a ring's first send, sparse, with
// uringFilesMax slots at most (8 bytes each, in the kernel), so a loop
// that never sends pays nothing; a descriptor beyond it goes by number. A
// send whose slot turns out empty (its update failed: the kernel was out
// of memory) fails with EBADF before moving a byte, and is sent again by
// descriptor, as the socket's later sends are.
//
// Only on Linux 6.13 and later. Before, the kernel released a file taken
// out of the table only once the requests issued before that which named
// slots had all completed, in order, and a send may wait on a peer that
// does not read for as long as the peer likes: every socket closed in the
// meantime would stay open.
//
// Handover (rebind): the new ring has a table of its own, empty; slots are
// filled again as sends come.

// uringFilesMax bounds a ring's file table (a variable for the tests).
var uringFilesMax = 1 << 14

// uringFixedFiles reports whether the kernel releases a file taken out of a
// ring's table as soon as no request uses it (Linux 6.13).
var uringFixedFiles = sync.OnceValue(func() bool {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return false
	}
	return kernelAtLeast(unix.ByteSliceToString(u.Release[:]), 6, 13)
})

// kernelAtLeast reports whether release, as uname gives it ("6.13.2-arch1",
// "6.13-rc1"), names version major.minor or a later one.
func kernelAtLeast(release string, major, minor int) bool {
	ma, rest, _ := strings.Cut(release, ".")
	mi := rest[:len(rest)-len(strings.TrimLeft(rest, "0123456789"))]
	a, err1 := strconv.Atoi(ma)
	b, err2 := strconv.Atoi(mi)
	if err1 != nil || err2 != nil {
		return false
	}
	return a > major || a == major && b >= minor
}

// Where a registered descriptor's slot stands (uringReg.file).
const (
	fileNone    = iota // empty
	fileSet            // holds the descriptor, or its update is queued
	fileRefused        // a send found it empty: the descriptor goes by number
)

// fileSlot reports whether a send can name fd by its slot, queuing the
// slot's update first if it is empty.
func (p *uringPoller) fileSlot(fd sysFD) bool {
	reg := p.regs.ptr(int(fd))
	switch {
	case reg == nil || reg.h == 0 || reg.file == fileRefused:
		return false
	case reg.file == fileSet:
		return true
	case !p.filesFor(fd):
		return false
	}
	e := p.sqe()
	if e == nil || p.r.files == 0 {
		return false // (sqe moved to a new ring, with no table yet: e stays a no-op)
	}
	p.r.prepFilesUpdate(e, uint32(fd), int32(fd))
	reg.file = fileSet
	return true
}

// filesFor reports whether the ring's file table has a slot for fd,
// registering the table first if the ring has none yet.
func (p *uringPoller) filesFor(fd sysFD) bool {
	if p.r.files == 0 {
		if p.filesTried || !uringFixedFiles() {
			return false
		}
		p.filesTried = true
		n := uint64(uringFilesMax)
		var lim unix.Rlimit
		if unix.Getrlimit(unix.RLIMIT_NOFILE, &lim) == nil {
			n = min(n, lim.Cur) // the kernel's limit on the table
		}
		// The ring's one submitter registers (SINGLE_ISSUER): bind.
		if n == 0 || p.bind() != nil || p.r.registerFiles(uint32(n)) != nil {
			return false
		}
	}
	return uint32(fd) < p.r.files
}

// emptySlot queues the update that empties fd's slot, unless the slot is
// known empty.
func (p *uringPoller) emptySlot(fd int, reg *uringReg) {
	if reg.file == fileNone {
		return
	}
	if e := p.sqe(); e != nil && reg.file != fileNone {
		p.r.prepFilesUpdate(e, uint32(fd), -1)
	}
}

// resend submits again, naming its socket by descriptor, the send o that
// failed with EBADF because its slot was empty; false if the ring could
// not take it.
func (p *uringPoller) resend(id uint64, o *entry[uringOp]) bool {
	if reg := p.regs.ptr(int(o.v.fd)); reg != nil && reg.h != 0 {
		reg.file = fileRefused
	}
	return p.submitOp(id, o)
}

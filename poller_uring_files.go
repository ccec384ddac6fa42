//go:build linux

package eventcore

import (
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// File I/O through the ring (files_ring.go): each step of a file job is
// one request, an operation of the ops table (poller_uring_ops.go) that
// keeps the buffer: IORING_OP_READ or IORING_OP_WRITE at the job's offset
// (a buffered read of cached pages completes inside the enter that submits
// it; what must wait, the kernel waits for in its own workers or polls),
// IORING_OP_FTRUNCATE where the kernel has it (Linux 6.9; the worker pool
// truncates elsewhere), IORING_OP_CLOSE. A step with nothing to transfer
// is a no-op request, so that it completes from the loop as the others do.

// The requests of file steps (linux/io_uring.h).
const (
	uringOpNop       = 0
	uringOpClose     = 19
	uringOpRead      = 22
	uringOpWrite     = 23
	uringOpFtruncate = 55

	uringRegisterProbe = 8
	uringOpSupported   = 1 << 0 // io_uring_probe_op.flags
)

// uringProbeOps is struct io_uring_probe with room for every opcode.
type uringProbeOps struct {
	lastOp, opsLen uint8
	_              uint16
	_              [3]uint32
	ops            [256]struct {
		op    uint8
		_     uint8
		flags uint16
		_     uint32
	}
}

var (
	_ [16 + 256*8 - unsafe.Sizeof(uringProbeOps{})]byte
	_ [unsafe.Sizeof(uringProbeOps{}) - 16 - 256*8]byte
)

// uringFtruncate tells, once, whether the kernel's io_uring has
// IORING_OP_FTRUNCATE: a kernel without it refuses the request (EINVAL),
// which from a truncation cannot be told from ftruncate's own EINVAL. A
// variable, so that tests can take it away.
var uringFtruncate = sync.OnceValue(func() bool {
	r, err := newUring(1, 2)
	if err != nil {
		return false
	}
	defer r.close()
	var probe uringProbeOps
	_, _, errno := unix.Syscall6(unix.SYS_IO_URING_REGISTER, uintptr(r.fd), uringRegisterProbe,
		uintptr(unsafe.Pointer(&probe)), uintptr(len(probe.ops)), 0, 0)
	if errno != 0 {
		return false
	}
	o := &probe.ops[uringOpFtruncate]
	return probe.lastOp >= uringOpFtruncate && o.flags&uringOpSupported != 0
})

func (p *uringPoller) startFile(kind fileJobKind, fd int, h handle, buf []byte, off int64) uint64 {
	var opcode uint8
	switch {
	case kind == fileJobClose:
		opcode = uringOpClose
	case kind == fileJobTruncate:
		if !uringFtruncate() {
			return 0
		}
		opcode = uringOpFtruncate
	case len(buf) == 0:
		opcode = uringOpNop
	case kind == fileJobRead:
		opcode = uringOpRead
	default:
		opcode = uringOpWrite
	}
	return p.startOp(uringOp{kind: uringOpKindFile, opcode: opcode, h: h, fd: sysFD(fd), buf: buf, off: uint64(off)})
}

func prepFile(e *uringSQE, o *uringOp) {
	e.opcode = o.opcode
	e.off = o.off
	if o.opcode == uringOpNop {
		e.fd = -1
	}
}

// cancelFile drops the step's request if it still waits in the ring's
// queue, the kernel never having seen it; otherwise it cancels it as
// cancelOp does, waiting for its completion.
func (p *uringPoller) cancelFile(id uint64) (started bool) {
	unqueued := false
	p.r.queued(func(e *uringSQE) {
		if e.userData == id {
			*e = uringSQE{opcode: uringOpNop, fd: -1, userData: uringDataIgnore}
			unqueued = true
		}
	})
	if !unqueued {
		p.cancelOp(id)
		return true
	}
	if h, o := p.op(id); o != nil {
		p.ops.release(h, o)
	}
	return false
}

//go:build linux

package eventcore

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The io_uring system calls, over x/sys/unix: setup, the rings mapped into
// memory, submission and completion. The layouts are those of the kernel's
// uapi header (linux/io_uring.h); their sizes are checked below at compile
// time.

// uringSQE is a submission queue entry (struct io_uring_sqe, 64 bytes).
type uringSQE struct {
	opcode   uint8
	flags    uint8
	ioprio   uint16
	fd       int32
	off      uint64 // or addr2
	addr     uint64
	len      uint32
	opFlags  uint32 // poll32_events, msg_flags, rw_flags, cancel_flags…
	userData uint64
	bufIndex uint16 // or buf_group
	_        uint16 // personality
	_        int32  // splice_fd_in, file_index
	addr3    uint64
	_        uint64
}

// uringCQE is a completion queue entry (struct io_uring_cqe, 16 bytes).
type uringCQE struct {
	userData uint64
	res      int32
	flags    uint32
}

type uringSQOffsets struct {
	head, tail, ringMask, ringEntries, flags, dropped, array, _ uint32
	_                                                           uint64
}

type uringCQOffsets struct {
	head, tail, ringMask, ringEntries, overflow, cqes, flags, _ uint32
	_                                                           uint64
}

// uringParams is struct io_uring_params (120 bytes).
type uringParams struct {
	sqEntries, cqEntries, flags, sqThreadCPU, sqThreadIdle, features, wqFD uint32
	_                                                                      [3]uint32
	sqOff                                                                  uringSQOffsets
	cqOff                                                                  uringCQOffsets
}

// uringGetEventsArg is struct io_uring_getevents_arg, for IORING_ENTER_EXT_ARG.
type uringGetEventsArg struct {
	sigmask   uint64
	sigmaskSz uint32
	_         uint32 // min_wait_usec
	ts        uint64 // *unix.Timespec
}

// uringRsrcRegister is struct io_uring_rsrc_register.
type uringRsrcRegister struct {
	nr    uint32
	flags uint32
	_     uint64
	data  uint64
	tags  uint64
}

// The sizes the kernel expects; either array length goes negative, and the
// build fails, if a layout above is wrong.
var (
	_ [32 - unsafe.Sizeof(uringRsrcRegister{})]byte
	_ [unsafe.Sizeof(uringRsrcRegister{}) - 32]byte
	_ [64 - unsafe.Sizeof(uringSQE{})]byte
	_ [unsafe.Sizeof(uringSQE{}) - 64]byte
	_ [16 - unsafe.Sizeof(uringCQE{})]byte
	_ [unsafe.Sizeof(uringCQE{}) - 16]byte
	_ [120 - unsafe.Sizeof(uringParams{})]byte
	_ [unsafe.Sizeof(uringParams{}) - 120]byte
	_ [24 - unsafe.Sizeof(uringGetEventsArg{})]byte
	_ [unsafe.Sizeof(uringGetEventsArg{}) - 24]byte
)

const (
	uringOpPollAdd     = 6
	uringOpAsyncCancel = 14
	uringOpFilesUpdate = 20
	uringOpSend        = 26

	uringSQEFixedFile      = 1 << 0 // IOSQE_FIXED_FILE: sqe.fd is a slot of the file table
	uringSQECQESkipSuccess = 1 << 6 // IOSQE_CQE_SKIP_SUCCESS: a completion only if it fails

	uringSetupCQSize        = 1 << 3
	uringSetupClamp         = 1 << 4
	uringSetupRDisabled     = 1 << 6
	uringSetupTaskrunFlag   = 1 << 9
	uringSetupSingleIssuer  = 1 << 12
	uringSetupDeferTaskrun  = 1 << 13
	uringRegisterEnableRing = 12
	uringRegisterFiles2     = 13
	uringRsrcRegisterSparse = 1 << 0

	uringFeatSingleMmap = 1 << 0
	uringFeatNoDrop     = 1 << 1
	uringFeatExtArg     = 1 << 8

	uringPollAddMulti = 1 << 0 // in sqe.len

	uringCQEFMore = 1 << 1

	uringSQCQOverflow = 1 << 1 // sq flags: completions wait in the kernel's overflow list
	uringSQTaskrun    = 1 << 2 // sq flags: completions wait for an enter to run their last step

	uringEnterGetEvents = 1 << 0
	uringEnterExtArg    = 1 << 3

	uringOffSQRing = 0
	uringOffSQEs   = 0x10000000
)

// uringFeatures are what the driver needs of the kernel besides its setup
// flags: completions never dropped, a timeout on the wait.
const uringFeatures = uringFeatSingleMmap | uringFeatNoDrop | uringFeatExtArg

var errUringFeatures = errors.New("the kernel's io_uring lacks features this driver needs (Linux 6.1 or later)")

// uring is one ring, mapped into this process.
type uring struct {
	fd       int
	ringMem  []byte // SQ and CQ rings, one mapping (IORING_FEAT_SINGLE_MMAP)
	sqeMem   []byte
	features uint32

	sqHead, sqTail, sqFlags *uint32
	sqMask                  uint32
	sqes                    []uringSQE
	tail                    uint32 // our SQ tail, published by submit
	unsubmitted             uint32

	cqHead, cqTail *uint32
	cqMask         uint32
	cqes           []uringCQE

	files   uint32  // slots of the file table, 0 while it has none
	slotFDs []int32 // per SQE: the descriptor a files update puts in its slot
}

// uringSetupFlags: completions run their last step only when the one
// thread that submits asks for events (DEFER_TASKRUN, which needs
// SINGLE_ISSUER; Linux 6.1), and the ring says when that is due
// (TASKRUN_FLAG). That thread is the one that enables the ring
// (R_DISABLED), not the one that creates it.
const uringSetupFlags = uringSetupCQSize | uringSetupClamp | uringSetupRDisabled |
	uringSetupSingleIssuer | uringSetupDeferTaskrun | uringSetupTaskrunFlag

// newUring sets up a ring with sq submission entries and cq completion
// entries (powers of two; the kernel may clamp them), disabled until
// enable.
func newUring(sq, cq uint32) (*uring, error) {
	p := uringParams{flags: uringSetupFlags, cqEntries: cq}
	r1, _, errno := unix.Syscall(unix.SYS_IO_URING_SETUP, uintptr(sq), uintptr(unsafe.Pointer(&p)), 0)
	switch errno {
	case 0:
	case unix.EINVAL:
		return nil, fmt.Errorf("%w (the driver needs Linux 6.1 or later)", errno)
	default:
		return nil, errno
	}
	r := &uring{fd: int(r1), features: p.features}
	if p.features&uringFeatures != uringFeatures {
		unix.Close(r.fd)
		return nil, errUringFeatures
	}
	sqSize := uintptr(p.sqOff.array) + uintptr(p.sqEntries)*4
	cqSize := uintptr(p.cqOff.cqes) + uintptr(p.cqEntries)*unsafe.Sizeof(uringCQE{})
	mem, err := unix.Mmap(r.fd, uringOffSQRing, int(max(sqSize, cqSize)), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		unix.Close(r.fd)
		return nil, err
	}
	r.ringMem = mem
	sqeMem, err := unix.Mmap(r.fd, uringOffSQEs, int(p.sqEntries)*int(unsafe.Sizeof(uringSQE{})), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		r.close()
		return nil, err
	}
	r.sqeMem = sqeMem
	at := func(off uint32) *uint32 { return (*uint32)(unsafe.Pointer(&mem[off])) }
	r.sqHead, r.sqTail, r.sqFlags = at(p.sqOff.head), at(p.sqOff.tail), at(p.sqOff.flags)
	r.sqMask = *at(p.sqOff.ringMask)
	r.sqes = unsafe.Slice((*uringSQE)(unsafe.Pointer(&sqeMem[0])), p.sqEntries)
	// The index array maps ring slots to SQEs one to one, once for all.
	array := unsafe.Slice(at(p.sqOff.array), p.sqEntries)
	for i := range array {
		array[i] = uint32(i)
	}
	r.tail = *r.sqTail
	r.cqHead, r.cqTail = at(p.cqOff.head), at(p.cqOff.tail)
	r.cqMask = *at(p.cqOff.ringMask)
	r.cqes = unsafe.Slice((*uringCQE)(unsafe.Pointer(&mem[p.cqOff.cqes])), p.cqEntries)
	return r, nil
}

// enable makes the calling thread the ring's only submitter.
func (r *uring) enable() error {
	_, _, errno := unix.Syscall6(unix.SYS_IO_URING_REGISTER, uintptr(r.fd), uringRegisterEnableRing, 0, 0, 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}

// registerFiles gives the ring a file table of n empty slots; the
// registering thread must be the ring's submitter.
func (r *uring) registerFiles(n uint32) error {
	rr := uringRsrcRegister{nr: n, flags: uringRsrcRegisterSparse}
	_, _, errno := unix.Syscall6(unix.SYS_IO_URING_REGISTER, uintptr(r.fd), uringRegisterFiles2, uintptr(unsafe.Pointer(&rr)), unsafe.Sizeof(rr), 0, 0)
	if errno != 0 {
		return errno
	}
	r.files = n
	r.slotFDs = make([]int32, len(r.sqes))
	return nil
}

// prepFilesUpdate makes e, the entry sqe returned last, put fd in slot
// (or empty it, for fd -1) when it is submitted: the kernel reads the
// descriptor from slotFDs then, where no later entry overwrites it first.
// Only a failure posts a completion, with user data 0.
func (r *uring) prepFilesUpdate(e *uringSQE, slot uint32, fd int32) {
	i := (r.tail - 1) & r.sqMask
	r.slotFDs[i] = fd
	*e = uringSQE{opcode: uringOpFilesUpdate, flags: uringSQECQESkipSuccess, fd: -1, off: uint64(slot), len: 1,
		addr: uint64(uintptr(unsafe.Pointer(&r.slotFDs[i])))}
}

// sqe returns a zeroed entry to fill, or nil if the queue is full.
func (r *uring) sqe() *uringSQE {
	if r.tail-atomic.LoadUint32(r.sqHead) >= uint32(len(r.sqes)) {
		return nil
	}
	e := &r.sqes[r.tail&r.sqMask]
	*e = uringSQE{}
	r.tail++
	r.unsubmitted++
	return e
}

// enter publishes the queued entries, submits them, and, with
// IORING_ENTER_GETEVENTS in flags, waits for minComplete completions or
// until the timeout in arg. blocking says whether the call goes through
// the scheduler (a wait that may last), or keeps the P (see sysWait).
func (r *uring) enter(flags uintptr, minComplete uint32, arg *uringGetEventsArg, blocking bool) (int, error) {
	atomic.StoreUint32(r.sqTail, r.tail)
	var argp, argsz uintptr
	if arg != nil {
		flags |= uringEnterExtArg
		argp, argsz = uintptr(unsafe.Pointer(arg)), unsafe.Sizeof(*arg)
	}
	var n uintptr
	var errno unix.Errno
	if blocking {
		n, _, errno = unix.Syscall6(unix.SYS_IO_URING_ENTER, uintptr(r.fd), uintptr(r.unsubmitted), uintptr(minComplete), flags, argp, argsz)
	} else {
		n, _, errno = unix.RawSyscall6(unix.SYS_IO_URING_ENTER, uintptr(r.fd), uintptr(r.unsubmitted), uintptr(minComplete), flags, argp, argsz)
	}
	if errno != 0 {
		return 0, errno
	}
	r.unsubmitted -= uint32(n)
	return int(n), nil
}

// queued calls fn for each entry queued and not yet taken by the kernel.
func (r *uring) queued(fn func(*uringSQE)) {
	for i := atomic.LoadUint32(r.sqHead); i != r.tail; i++ {
		fn(&r.sqes[i&r.sqMask])
	}
}

// ready reports whether completions are waiting in the ring.
func (r *uring) ready() bool { return atomic.LoadUint32(r.cqTail) != *r.cqHead }

// due reports whether completions wait for an enter with
// IORING_ENTER_GETEVENTS: in the kernel's overflow list, or for their
// last step to run.
func (r *uring) due() bool {
	return atomic.LoadUint32(r.sqFlags)&(uringSQCQOverflow|uringSQTaskrun) != 0
}

// completions returns the range of completions waiting in the ring, for
// cqe; done frees the slots up to tail with one store.
func (r *uring) completions() (head, tail uint32) {
	return *r.cqHead, atomic.LoadUint32(r.cqTail)
}

func (r *uring) cqe(i uint32) *uringCQE { return &r.cqes[i&r.cqMask] }

// full reports whether the completion ring has no free slot: completions
// wait in the kernel's overflow list until some are taken.
func (r *uring) full() bool {
	head, tail := r.completions()
	return tail-head >= uint32(len(r.cqes))
}

// posted finds the completion with user data data among those waiting
// in the ring, and returns its result.
func (r *uring) posted(data uint64) (res int32, ok bool) {
	head, tail := r.completions()
	for ; head != tail; head++ {
		if c := r.cqe(head); c.userData == data {
			return c.res, true
		}
	}
	return 0, false
}

func (r *uring) done(tail uint32) { atomic.StoreUint32(r.cqHead, tail) }

// unmap releases the ring's memory; close also its descriptor.
func (r *uring) unmap() {
	if r.sqeMem != nil {
		unix.Munmap(r.sqeMem)
	}
	unix.Munmap(r.ringMem)
}

func (r *uring) close() {
	r.unmap()
	unix.Close(r.fd)
}

// uringTimeout fills ts for a wait of d, at least 1 ns: a zero timespec
// would be no wait at all.
func uringTimeout(ts *unix.Timespec, d time.Duration) {
	*ts = unix.NsecToTimespec(max(int64(d), 1))
}

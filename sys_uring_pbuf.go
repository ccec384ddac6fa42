//go:build linux

package eventcore

import (
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Provided-buffer rings (IORING_REGISTER_PBUF_RING): a ring of buffer
// descriptions, in memory shared with the kernel, from which a receive
// picks the buffer it fills when data comes, rather than holding one while
// it waits. The kernel consumes from the head; the loop provides at the
// tail. With IOU_PBUF_RING_INC (Linux 6.12) the kernel takes from a buffer
// only what a receive got, and the next receive goes on in the same buffer
// after it, so small messages share a buffer. Layouts as in the kernel's
// uapi header, sizes checked below.

// uringBuf is struct io_uring_buf; the ring's tail is the resv field of
// entry 0 (struct io_uring_buf_ring).
type uringBuf struct {
	addr uint64
	len  uint32
	bid  uint16
	_    uint16
}

// uringBufReg is struct io_uring_buf_reg.
type uringBufReg struct {
	ringAddr    uint64
	ringEntries uint32
	bgid        uint16
	flags       uint16
	_           [3]uint64
}

var (
	_ [16 - unsafe.Sizeof(uringBuf{})]byte
	_ [unsafe.Sizeof(uringBuf{}) - 16]byte
	_ [40 - unsafe.Sizeof(uringBufReg{})]byte
	_ [unsafe.Sizeof(uringBufReg{}) - 40]byte
)

const (
	uringOpPollRemove     = 7
	uringOpRecv           = 27
	uringPollUpdateEvents = 1 << 1 // in sqe.len of a poll remove

	uringRegisterPbufRing = 22
	uringPbufRingInc      = 2 // IOU_PBUF_RING_INC

	uringSQEBufferSelect = 1 << 5 // IOSQE_BUFFER_SELECT
	uringRecvMultishot   = 1 << 1 // IORING_RECV_MULTISHOT, in sqe.ioprio

	uringCQEFBuffer  = 1 << 0
	uringCQEFBufMore = 1 << 4 // the kernel keeps filling the buffer (INC)

	uringCQEFSockNonempty = 1 << 2 // the socket holds more after this receive
	uringCQEBufferShift   = 16
)

// uringBufRing is the shared ring of buffer descriptions: entries of them,
// in memory of its own (page-aligned, as the kernel requires).
type uringBufRing struct {
	mem  []byte
	bufs []uringBuf
	tail uint16 // ours, published by publish
}

func newUringBufRing(entries int) (*uringBufRing, error) {
	mem, err := unix.Mmap(-1, 0, entries*int(unsafe.Sizeof(uringBuf{})), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANONYMOUS|unix.MAP_PRIVATE|unix.MAP_POPULATE)
	if err != nil {
		return nil, err
	}
	return &uringBufRing{mem: mem, bufs: unsafe.Slice((*uringBuf)(unsafe.Pointer(&mem[0])), entries)}, nil
}

// register makes br the buffer group bgid of ring r, consumed
// incrementally.
func (br *uringBufRing) register(r *uring, bgid uint16) error {
	reg := uringBufReg{ringAddr: uint64(uintptr(unsafe.Pointer(&br.mem[0]))), ringEntries: uint32(len(br.bufs)), bgid: bgid, flags: uringPbufRingInc}
	_, _, errno := unix.Syscall6(unix.SYS_IO_URING_REGISTER, uintptr(r.fd), uringRegisterPbufRing, uintptr(unsafe.Pointer(&reg)), 1, 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}

// add queues buf, buffer bid, at the tail; publish shows what was added to
// the kernel.
func (br *uringBufRing) add(buf []byte, bid uint16) {
	b := &br.bufs[int(br.tail)&(len(br.bufs)-1)]
	b.addr = uint64(uintptr(unsafe.Pointer(unsafe.SliceData(buf))))
	b.len = uint32(len(buf))
	b.bid = bid
	br.tail++
}

// The tail shares a 32-bit word with entry 0's bid, which the kernel only
// reads: one atomic store of both orders it after the entries.
func (br *uringBufRing) publish() {
	w := [2]uint16{br.bufs[0].bid, br.tail}
	atomic.StoreUint32((*uint32)(unsafe.Pointer(&br.bufs[0].bid)), *(*uint32)(unsafe.Pointer(&w)))
}

// close unmaps the ring; a ring that registered it pins its pages until
// the kernel frees it.
func (br *uringBufRing) close() { unix.Munmap(br.mem) }

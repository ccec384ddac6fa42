//go:build linux

package eventcore

import (
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// Receives through the ring, for the stream sockets the loop serves loaned
// reads on (fdio_ringrecv.go): one multishot IORING_OP_RECV per socket,
// which takes a buffer from the loop's provided-buffer ring
// (sys_uring_pbuf.go) when data comes and posts a completion per receive,
// until it ends. A loaned read then costs no read(2) and no poll
// completion: the socket's poll leaves POLLIN out from then on.
//
// Buffers. One ring per loop of uringRecvBufCount buffers of the loan size
// (at most uringRecvBufMax), consumed incrementally: a receive takes only
// the bytes it got, and the next one, of any socket, goes on in the same
// buffer, so a 64-byte message uses 64 bytes, not a buffer. A buffer goes
// back to the ring once the kernel has filled it (no IORING_CQE_F_BUF_MORE)
// and the loop has released every piece of it (segments, counted in refs).
// A socket that waits holds nothing: its receive takes a buffer only when
// data comes. A piece handed over by TakeLoan is the caller's; its buffer
// is replaced by a new one when it would go back. Memory: count × size per
// loop (512 KiB with the defaults), and the pieces callers took.
//
// Per socket, pieces received and not yet read wait in order in a list
// (uringRx), followed by the end of the stream or an error once the
// receive met it. Every read of the socket is served from that list from
// then on: a loaned read lends its head piece, a Read copies (and may
// leave part of a piece), WaitForData looks; so data is never reordered,
// lost or doubled whatever reads a program mixes. A socket with no read
// waiting that holds more than a buffer's worth (its program stopped
// reading, or waits for a write to drain) stops its receive (ASYNC_CANCEL,
// without waiting): it holds what came until then, and the receive is
// armed again when a read waits. (Stopping at the first byte would cost a
// cancel and a re-arm each time a server waits for a write.) What such
// a socket holds pins ring buffers; when the ring runs dry (a receive meets
// ENOBUFS, or one is to be armed with no buffer in the ring), the pieces of
// every socket with no read waiting are copied to memory of their own
// (spill), so that a program that stops reading one connection cannot
// starve the others: only then does the loop allocate. A receive
// that ends for want of buffers (ENOBUFS) or for another reason than the
// end, an error or our cancel (a full completion ring) is armed again as
// soon as a read waits and buffers are back (pending).
//
// Shutdown, close, Detach and Dispose cancel the receive and run the ring
// until its last completion is in (recvCancel): the kernel then holds no
// reference to the socket, and nothing it received is lost unseen. Detach
// is refused while the loop holds data received and not read: it cannot
// be put back into the socket for the next owner.
//
// A receive is no entry of the ops table (poller_uring_ops.go), which
// would cost every socket that waits another 96 bytes: its completions
// name the descriptor and the receive's generation (uringDataRecv), which
// a receive's end advances. A completion that names an older generation
// (a receive the loop gave up, at a handover or when the ring failed) is
// dropped, its buffer released.
//
// Stuck receives. A receive that reaches TCP's urgent mark while a signal
// is pending for the loop's thread gets EAGAIN from the socket, which the
// kernel takes for an empty one: it waits for the socket to wake it, and
// the data already queued behind the mark never does. The Go runtime
// signals its threads (SIGURG) to preempt goroutines, so this happens
// now and then wherever peers send urgent data. The completion before
// says that the socket still holds data (IORING_CQE_F_SOCK_NONEMPTY),
// and normally another follows at once. So a socket whose last
// completion said so is watched (uringRecv.watch): the loop does not
// sleep while it watches one, and one that got no completion over two
// waits has its receive cancelled, and armed again if a read waits
// (recvUnstick); a new receive of a socket that held data is watched too.
//
// Handover (rebind): completions posted on the left ring are taken first;
// receives the kernel took there never complete here, so they are armed
// again on the new ring (task work had not run: what they did not post,
// they did not read). The new ring gets a buffer ring of its own; buffers
// the left ring could still fill are retired, and new ones take their place.
//
// Degrading: the first loop whose kernel refuses an incremental buffer ring
// (before Linux 6.12) marks it so; from then on no loop tries, and loaned
// reads are made as on the readiness drivers.

// uringRecvBufMax bounds the size of a ring buffer; uringRecvBufCount is
// their number, a power of two (a variable for the tests).
const uringRecvBufMax = 32 << 10

var uringRecvBufCount = 16

// uringRecvGroup is the buffer group id of the ring's buffers.
const uringRecvGroup = 0

// uringNoRecvRing is set once a kernel refused the buffer ring.
var uringNoRecvRing atomic.Bool

type uringRecv struct {
	br       *uringBufRing
	bufs     [][]byte // by buffer id
	fill     []uint32 // where the kernel's next bytes go in each buffer
	refs     []int32  // pieces of each buffer the loop holds
	out      []bool   // with the kernel
	taken    []bool   // a piece handed over by TakeLoan: replace before it goes back
	inRing   int      // buffers with the kernel
	segs     []uringSeg
	freeSeg  uint32         // first free segment + 1
	socks    fdMap[uringRx] // by descriptor
	pending  []int32        // descriptors whose receive is to be armed again
	watch    []int32        // descriptors whose receive may be stuck
	spilling bool
}

// uringSpilled is the bid of a piece copied out of the ring (spill).
const uringSpilled = 1<<16 - 1

// uringSeg is a piece of a buffer that a receive filled.
type uringSeg struct {
	data []byte
	bid  uint16
	next uint32 // segment + 1
}

// uringRx is a socket's receive.
type uringRx struct {
	h          handle // 0: the descriptor is not served by the ring
	head, tail uint32 // received pieces not yet read: segment + 1
	end        int32  // after them: 0 nothing, 1 the end of the stream, -errno
	held       uint32 // bytes in the pieces
	gen        uint16 // the receive's generation
	watch      uint8  // in uringRecv.watch: rxWatched, or rxQuiet after a wait without completions
	armed      bool   // the receive is in the ring
	want       bool   // a read waits for data
	stopping   bool   // a cancel of the receive is on its way
	pending    bool   // in uringRecv.pending
	nonempty   bool   // the last completion said the socket holds more
}

const (
	rxWatched = 1 + iota
	rxQuiet
)

// uringDataRecv tags a receive's user_data: uringDataRecv | gen<<32 | fd+1.
const uringDataRecv = 1 << 61

// data is the user_data of fd's receive.
func (rx *uringRx) data(fd sysFD) uint64 {
	return uringDataRecv | uint64(rx.gen)<<32 | uint64(uint32(fd)+1)
}

// ended marks the receive over: completions still to come for it name an
// older generation.
func (rx *uringRx) ended() {
	rx.armed, rx.stopping = false, false
	rx.gen++
}

// recvSetup makes the loop's buffer ring, with buffers of size bytes at
// most; false if the kernel lacks what it needs.
func (p *uringPoller) recvSetup(size int) bool {
	if uringNoRecvRing.Load() {
		return false
	}
	// The ring's one submitter registers (SINGLE_ISSUER): enter binds.
	if p.enter(0, 0, nil, false) != nil {
		return false
	}
	n := uringRecvBufCount
	rx := &uringRecv{bufs: make([][]byte, n), fill: make([]uint32, n), refs: make([]int32, n), out: make([]bool, n), taken: make([]bool, n)}
	size = min(size, uringRecvBufMax)
	for i := range rx.bufs {
		rx.bufs[i] = make([]byte, size)
	}
	p.rx = rx
	if err := p.recvRing(); err != nil {
		p.rx = nil
		if err == unix.EINVAL {
			uringNoRecvRing.Store(true)
		}
		return false
	}
	return true
}

// recvRing gives the ring a buffer ring with every buffer the loop does
// not hold; a buffer the previous ring had is replaced.
func (p *uringPoller) recvRing() error {
	rx := p.rx
	br, err := newUringBufRing(len(rx.bufs))
	if err != nil {
		return err
	}
	if err := br.register(p.r, uringRecvGroup); err != nil {
		br.close()
		return err
	}
	if rx.br != nil {
		rx.br.close()
	}
	rx.br, rx.inRing = br, 0
	for bid := range rx.bufs {
		if rx.out[bid] {
			p.retired = append(p.retired, rx.bufs[bid])
			rx.bufs[bid] = make([]byte, len(rx.bufs[bid]))
			rx.out[bid] = false
		}
		p.recycle(uint16(bid))
	}
	return nil
}

// recvMoved follows a rebind: the receives the left ring had are over
// (what they did not post, they did not read; the kernel never saw those
// still queued), the new ring gets its buffer ring, and receives are armed
// again.
func (p *uringPoller) recvMoved() {
	if p.rx == nil {
		return
	}
	p.rx.socks.each(func(fd int, rx *uringRx) {
		if rx.armed {
			rx.ended()
			if rx.want {
				p.pend(sysFD(fd))
			}
		}
	})
	if err := p.recvRing(); err != nil {
		p.rx.socks.each(func(_ int, rx *uringRx) {
			if rx.h != 0 && rx.end == 0 {
				rx.end = -int32(err.(unix.Errno))
			}
		})
		return
	}
	p.recvRearm()
}

func (p *uringPoller) recvStart(fd sysFD, h handle, size int) bool {
	if p.rx == nil && !p.recvSetup(size) {
		return false
	}
	rx := p.rx.socks.at(int(fd))
	*rx = uringRx{h: h, gen: rx.gen, pending: rx.pending, watch: rx.watch}
	p.dropPollIn(fd)
	p.arm(fd)
	return true
}

// dropPollIn has fd's poll stop watching for data, which its receive
// reports from now on.
func (p *uringPoller) dropPollIn(fd sysFD) {
	reg := p.regs.ptr(int(fd))
	if reg == nil || reg.h == 0 {
		return
	}
	reg.mask = unix.POLLOUT | unix.POLLERR | unix.POLLHUP
	if e := p.sqe(); e != nil {
		e.opcode = uringOpPollRemove
		e.fd = -1
		e.addr = reg.data(int(fd))
		e.len = uringPollUpdateEvents | uringPollAddMulti
		e.opFlags = uint32(reg.mask)
		e.userData = uringDataIgnore
	}
}

// arm starts fd's receive, or leaves it pending while the ring has no
// buffer.
func (p *uringPoller) arm(fd sysFD) {
	if p.rx.inRing == 0 {
		p.pend(fd)
		p.spill()
		return
	}
	e := p.sqe()
	if e == nil {
		p.pend(fd)
		return
	}
	rx := p.rx.socks.at(int(fd))
	*e = uringSQE{opcode: uringOpRecv, flags: uringSQEBufferSelect, ioprio: uringRecvMultishot, fd: int32(fd), bufIndex: uringRecvGroup, userData: rx.data(fd)}
	rx.armed = true
	if rx.nonempty {
		p.watch(fd, rx)
	}
}

// watch has the loop look after fd's receive (see "Stuck receives").
func (p *uringPoller) watch(fd sysFD, rx *uringRx) {
	if rx.watch == 0 {
		p.rx.watch = append(p.rx.watch, int32(fd))
	}
	rx.watch = rxWatched
}

// recvUnstick looks at the watched receives after a wait: one that got no
// completion since the last look is cancelled (and armed again by its
// end, if a read waits); one whose socket is known empty is let go.
func (p *uringPoller) recvUnstick() {
	w := p.rx.watch[:0]
	for _, fd := range p.rx.watch {
		rx := p.rx.socks.at(int(fd))
		switch {
		case !rx.armed || !rx.nonempty || rx.h == 0:
			rx.watch = 0
			continue
		case rx.watch == rxQuiet:
			if !rx.stopping {
				p.stop(sysFD(fd), rx)
			}
		default:
			rx.watch = rxQuiet
		}
		w = append(w, fd)
	}
	p.rx.watch = w
}

// recvWatching reports whether the loop watches a receive and must not
// sleep.
func (p *uringPoller) recvWatching() bool { return p.rx != nil && len(p.rx.watch) > 0 }

func (p *uringPoller) pend(fd sysFD) {
	if rx := p.rx.socks.at(int(fd)); !rx.pending {
		rx.pending = true
		p.rx.pending = append(p.rx.pending, fd)
	}
}

// recvRearm arms the pending receives that a read waits for, while the
// ring has buffers.
func (p *uringPoller) recvRearm() {
	for len(p.rx.pending) > 0 && p.rx.inRing > 0 {
		n := len(p.rx.pending) - 1
		fd := p.rx.pending[n]
		p.rx.pending = p.rx.pending[:n]
		rx := p.rx.socks.at(int(fd))
		rx.pending = false
		if rx.h != 0 && rx.want && !rx.armed && rx.end == 0 {
			p.arm(fd)
			if rx.pending {
				return // no room in the submission queue
			}
		}
	}
}

// rxOf returns the receive that user data data names, nil if it is over.
func (p *uringPoller) rxOf(data uint64) (sysFD, *uringRx) {
	fd := sysFD(int32(uint32(data)) - 1)
	rx := p.rx.socks.ptr(int(fd))
	if rx == nil || rx.h == 0 || !rx.armed || rx.data(fd) != data {
		return fd, nil
	}
	return fd, rx
}

// recvCQE takes completion c of a receive.
func (p *uringPoller) recvCQE(evs []readyEvent, c *uringCQE) []readyEvent {
	if p.rx == nil {
		return evs
	}
	fd, rx := p.rxOf(c.userData)
	had := rx != nil && (rx.head != 0 || rx.end != 0)
	if rx != nil && c.res >= 0 { // a cancel or an error says nothing of the socket
		rx.nonempty = c.flags&uringCQEFSockNonempty != 0
		if rx.nonempty && c.flags&uringCQEFMore != 0 {
			p.watch(fd, rx)
		}
	}
	if c.res > 0 && c.flags&uringCQEFBuffer != 0 {
		bid := uint16(c.flags >> uringCQEBufferShift)
		b := p.rx
		off := b.fill[bid]
		data := b.bufs[bid][off : off+uint32(c.res) : off+uint32(c.res)]
		b.fill[bid] += uint32(c.res)
		b.refs[bid]++
		if c.flags&uringCQEFBufMore == 0 {
			b.out[bid] = false
			b.inRing--
		}
		s := p.newSeg(data, bid)
		if rx != nil {
			rx.held += uint32(c.res)
			if rx.tail != 0 {
				b.segs[rx.tail-1].next = s
			} else {
				rx.head = s
			}
			rx.tail = s
		} else {
			p.recvRelease(s, false) // a socket since closed
		}
	}
	if c.flags&uringCQEFMore == 0 {
		if rx != nil {
			rx.ended()
			p.recvEnded(fd, rx, c.res)
		}
	} else if rx != nil && !rx.want && !rx.stopping && int(rx.held) > len(p.rx.bufs[0]) {
		p.stop(fd, rx)
	}
	if rx != nil && !had && rx.want && (rx.head != 0 || rx.end != 0) {
		evs = append(evs, readyEvent{h: rx.h, ev: evRead})
	}
	return evs
}

// recvEnded takes the end of fd's receive, with result res.
func (p *uringPoller) recvEnded(fd sysFD, rx *uringRx, res int32) {
	switch {
	case res == 0:
		rx.end = 1
	case res == -int32(unix.ENOBUFS):
		if rx.want {
			p.pend(fd)
		}
		p.spill()
	case res > 0, res == -int32(unix.ECANCELED):
		if rx.want {
			p.arm(fd) // or pends it, while the ring has no buffer
		}
	default:
		rx.end = res
	}
}

// stop queues the cancel of rx's receive.
func (p *uringPoller) stop(fd sysFD, rx *uringRx) {
	rx.stopping = p.queueCancel(rx.data(fd), uringDataIgnore)
}

func (p *uringPoller) newSeg(data []byte, bid uint16) uint32 {
	b := p.rx
	s := b.freeSeg
	if s == 0 {
		b.segs = append(b.segs, uringSeg{})
		s = uint32(len(b.segs))
	} else {
		b.freeSeg = b.segs[s-1].next
	}
	b.segs[s-1] = uringSeg{data: data, bid: bid}
	return s
}

// recvRelease frees segment s, whose bytes the loop is done with or, if
// taken, handed to a caller; its buffer goes back to the ring when it can.
func (p *uringPoller) recvRelease(s uint32, taken bool) {
	b := p.rx
	bid := b.segs[s-1].bid
	b.segs[s-1] = uringSeg{next: b.freeSeg}
	b.freeSeg = s
	if bid == uringSpilled {
		return
	}
	b.refs[bid]--
	if taken {
		b.taken[bid] = true
	}
	p.recycle(bid)
	if len(b.pending) > 0 {
		p.recvRearm()
	}
}

// spill copies the pieces that sockets with no read waiting hold out of
// the ring's buffers, and gives those back.
func (p *uringPoller) spill() {
	b := p.rx
	if b.spilling {
		return
	}
	b.spilling = true
	b.socks.each(func(_ int, rx *uringRx) {
		if rx.h == 0 || rx.want || rx.head == 0 {
			return
		}
		n := 0
		for s := rx.head; s != 0; s = b.segs[s-1].next {
			if b.segs[s-1].bid != uringSpilled {
				n += len(b.segs[s-1].data)
			}
		}
		if n == 0 {
			return
		}
		own := make([]byte, 0, n)
		for s := rx.head; s != 0; s = b.segs[s-1].next {
			seg := &b.segs[s-1]
			if bid := seg.bid; bid != uringSpilled {
				at := len(own)
				own = append(own, seg.data...)
				seg.data, seg.bid = own[at:len(own):len(own)], uringSpilled
				b.refs[bid]--
				p.recycle(bid)
			}
		}
	})
	b.spilling = false
	p.recvRearm()
}

// recycle gives buffer bid back to the ring if nothing uses it.
func (p *uringPoller) recycle(bid uint16) {
	b := p.rx
	if b.out[bid] || b.refs[bid] != 0 {
		return
	}
	if b.taken[bid] {
		b.bufs[bid] = make([]byte, len(b.bufs[bid]))
		b.taken[bid] = false
	}
	b.fill[bid] = 0
	b.out[bid] = true
	b.inRing++
	b.br.add(b.bufs[bid], bid)
	b.br.publish()
}

// recvTake takes the first piece received on fd: its segment, to release,
// and its bytes; or, with none, why: EAGAIN (none yet), nil (the end of
// the stream) or an error.
func (p *uringPoller) recvTake(fd sysFD) (uint32, []byte, error) {
	rx := p.rx.socks.at(int(fd))
	s := rx.head
	if s == 0 {
		return 0, nil, rx.status()
	}
	seg := &p.rx.segs[s-1]
	if rx.head = seg.next; rx.head == 0 {
		rx.tail = 0
	}
	rx.want = false
	rx.held -= uint32(len(seg.data))
	return s, seg.data, nil
}

// recvRead copies what fd received into buf, up to its length, as read(2)
// would.
func (p *uringPoller) recvRead(fd sysFD, buf []byte) (int, error) {
	rx := p.rx.socks.at(int(fd))
	n := 0
	for rx.head != 0 && n < len(buf) {
		seg := &p.rx.segs[rx.head-1]
		k := copy(buf[n:], seg.data)
		n += k
		if k < len(seg.data) {
			seg.data = seg.data[k:]
			break
		}
		s := rx.head
		if rx.head = seg.next; rx.head == 0 {
			rx.tail = 0
		}
		p.recvRelease(s, false)
	}
	if n == 0 {
		return 0, rx.status()
	}
	rx.held -= uint32(n)
	rx.want = false
	return n, nil
}

func (rx *uringRx) status() error {
	switch {
	case rx.end == 0:
		return unix.EAGAIN
	case rx.end < 0:
		return unix.Errno(-rx.end)
	}
	return nil
}

func (p *uringPoller) recvReady(fd sysFD) bool {
	rx := p.rx.socks.at(int(fd))
	return rx.head != 0 || rx.end != 0
}

// recvWant notes that a read of fd waits, and arms its receive if it is
// not.
func (p *uringPoller) recvWant(fd sysFD) {
	rx := p.rx.socks.at(int(fd))
	rx.want = true
	if !rx.armed && rx.end == 0 && rx.head == 0 {
		p.arm(fd)
	}
}

func (p *uringPoller) recvIdle(fd sysFD) { p.rx.socks.at(int(fd)).want = false }

// recvCancel cancels fd's receive and runs the ring until its last
// completion is in, and reports whether received data waits to be read.
func (p *uringPoller) recvCancel(fd sysFD) bool {
	rx := p.rx.socks.at(int(fd)) // stays put: fdMap slots never move
	rx.want = false
	if rx.armed && !rx.stopping {
		p.stop(fd, rx)
	}
	for rx.armed {
		if p.awaitMore() != nil {
			// The ring failed: the receive's buffers stay referenced
			// until the poller closes.
			break
		}
		p.late = p.collect(p.late)
	}
	return rx.head != 0
}

// recvForget cancels fd's receive and drops what it received: the socket
// is closing, or shut down for reading.
func (p *uringPoller) recvForget(fd sysFD) {
	p.recvCancel(fd)
	rx := p.rx.socks.at(int(fd))
	if rx.armed {
		rx.ended() // the ring failed: what it may still post is dropped
	}
	for s := rx.head; s != 0; {
		next := p.rx.segs[s-1].next
		p.recvRelease(s, false)
		s = next
	}
	*rx = uringRx{gen: rx.gen, pending: rx.pending, watch: rx.watch}
}

// recvClose releases the buffer ring.
func (p *uringPoller) recvClose() {
	if p.rx != nil {
		p.rx.br.close()
	}
}

//go:build linux

package eventcore

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// Requests of the loop's own, beside the readiness polls: the poller
// carries some operations out itself (sends, file steps), and each is an
// entry of its ops table, whose handle, tagged with uringDataOp, is the
// request's user_data. The entry references the memory the kernel uses
// (op.buf) until the completion arrives, or until a cancel has seen it
// arrive; a completion reaped after the entry was freed names a stale
// generation and is dropped. A kind of operation adds its prep (what goes
// into the submission) and its completion (what the loop is told) to the
// switches below. (Receives, many completions each and one per socket
// that waits, are keyed by descriptor instead: poller_uring_recv.go.)

// uringDataOp tags the user_data of an operation (an ops handle, whose kind
// bits are zero); registrations' generations stay below bit 62.
const uringDataOp = 1 << 62

// uringCancelWait bounds each wait of a cancel for the cancelled request's
// completion; it waits again until that arrives.
const uringCancelWait = 10_000_000 // ns

type uringOpKind uint8

const (
	uringOpKindSend uringOpKind = iota + 1
	uringOpKindFile             // a step of a file job (poller_uring_files.go)
)

// uringOp is one operation in flight, or completed and not yet taken.
type uringOp struct {
	kind   uringOpKind
	h      handle // what the completion is reported for
	fd     sysFD
	buf    []byte // what the kernel reads or fills until it completes
	opcode uint8  // a file step's request
	off    uint64 // a file step's offset, or a truncation's length
	res    int32  // the completion's result: a count, or -errno
	done   bool
	queued bool // rebind: still in the left ring's queue, never submitted
	fixed  bool // a send naming its socket by its slot (poller_uring_fixed.go)
}

// startOp queues operation o and returns its id, or 0 if the ring could
// not take it.
func (p *uringPoller) startOp(o uringOp) uint64 {
	oh, e := p.ops.alloc(kindNone)
	if e == nil {
		return 0
	}
	e.v = o
	id := uringDataOp | uint64(oh)
	if !p.submitOp(id, e) {
		p.ops.release(oh, e)
		return 0
	}
	return id
}

// submitOp queues the request of operation o, whose user data is id.
func (p *uringPoller) submitOp(id uint64, o *entry[uringOp]) bool {
	// Should taking an entry, for the send's slot or for o, move the
	// poller to a new ring (rebind), moveOps submits o there, as one the
	// left ring never saw; the entries taken here then stay no-ops.
	o.v.queued = true
	fixed := o.v.kind == uringOpKindSend && p.fileSlot(o.v.fd)
	e := p.sqe()
	if !o.v.queued {
		return true
	}
	o.v.queued, o.v.fixed = false, fixed
	if e == nil {
		return false
	}
	*e = uringSQE{fd: int32(o.v.fd), userData: id}
	if len(o.v.buf) > 0 {
		e.addr = uint64(uintptr(unsafe.Pointer(unsafe.SliceData(o.v.buf))))
		e.len = uint32(min(len(o.v.buf), maxRW))
	}
	if o.v.fixed {
		e.flags = uringSQEFixedFile // the slot is the descriptor's number
	}
	switch o.v.kind {
	case uringOpKindSend:
		prepSend(e)
	case uringOpKindFile:
		prepFile(e, &o.v)
	}
	return true
}

// op returns the live operation id names, nil if none.
func (p *uringPoller) op(id uint64) (handle, *entry[uringOp]) {
	h := handle(id &^ uringDataOp)
	return h, p.ops.get(h, kindNone)
}

// opResult tells whether operation id completed, and then its result, and
// forgets it.
func (p *uringPoller) opResult(id uint64) (res int32, done bool) {
	h, o := p.op(id)
	if o == nil {
		return -int32(unix.ECANCELED), true // not one of ours: cannot happen
	}
	if !o.v.done {
		return 0, false
	}
	res = o.v.res
	p.ops.release(h, o)
	return res, true
}

// opOutcome is opResult as a count or an error.
func (p *uringPoller) opOutcome(id uint64) (int, bool, error) {
	res, done := p.opResult(id)
	if !done {
		return 0, false, nil
	}
	if res < 0 {
		return 0, true, unix.Errno(-res)
	}
	return int(res), true, nil
}

// cancelOp cancels operation id, forgets it, and returns its result
// (-ECANCELED if the cancel came first). Until its completion is posted
// the kernel may still use the buffer, so the cancel runs the ring until
// then; under DEFER_TASKRUN it takes effect in the enter that submits it.
// Should the ring fail meanwhile, the buffer stays referenced until the
// poller closes.
func (p *uringPoller) cancelOp(id uint64) int32 {
	h, o := p.op(id)
	if o == nil {
		return -int32(unix.ECANCELED)
	}
	if !o.v.done && !p.cancelled(id, o) {
		p.retired = append(p.retired, o.v.buf)
		o.v.res = -int32(unix.ECANCELED)
	}
	res := o.v.res
	p.ops.release(h, o)
	return res
}

// cancelled submits the cancel of operation id and reports whether its
// completion has come, recording its result in o. (The completion stays
// in the ring, and the reap drops it.) Should an enter move the poller to
// a new ring (rebind), the cancel, queued on the left one, is made again
// on the new one, which may have taken the operation over (moveOps). A
// full completion ring is emptied into late, to make room for it.
func (p *uringPoller) cancelled(id uint64, o *entry[uringOp]) bool {
	r := p.r
	if !p.queueCancel(id, uringDataIgnore) {
		return false
	}
	err := p.enter(uringEnterGetEvents, 0, nil, false)
	for err == nil && !o.v.done {
		switch res, ok := p.r.posted(id); {
		case ok:
			o.v.res, o.v.done = res, true
		case p.r != r:
			return p.cancelled(id, o)
		case p.r.full():
			p.late = p.collect(p.late) // which may complete o
		default:
			err = p.awaitMore()
		}
	}
	return err == nil
}

// queueCancel queues an IORING_OP_ASYNC_CANCEL of the request whose user
// data is data; its own completion has user data as. It reports false if
// the submission queue could not take it.
func (p *uringPoller) queueCancel(data, as uint64) bool {
	e := p.sqe()
	if e == nil {
		return false
	}
	e.opcode = uringOpAsyncCancel
	e.fd = -1
	e.addr = data
	e.userData = as
	return true
}

// awaitMore submits what is queued and waits, for uringCancelWait at
// most, for a completion beyond those in the ring; a wait that ends
// without one (ETIME, EINTR) is no error.
func (p *uringPoller) awaitMore() error {
	head, tail := p.r.completions()
	p.ts = unix.NsecToTimespec(uringCancelWait)
	p.arg.ts = uint64(uintptr(unsafe.Pointer(&p.ts)))
	switch err := p.enter(uringEnterGetEvents, tail-head+1, &p.arg, true); err {
	case unix.ETIME, unix.EINTR:
		return nil
	default:
		return err
	}
}

// queuedOps marks the operations still in the queue of ring r, which the
// poller is leaving (rebind): the kernel never saw them.
func (p *uringPoller) queuedOps(r *uring) {
	r.queued(func(e *uringSQE) {
		if e.userData&uringDataOp != 0 {
			if _, o := p.op(e.userData); o != nil {
				o.v.queued = true
			}
		}
	})
}

// moveOps takes the operations of the ring the poller left (rebind) to the
// new one. Those the old ring never saw are submitted again; the others
// will never complete, and what they did is unknown, so they fail
// (ECANCELED), their buffers referenced until the poller closes, as the
// kernel frees the old ring's requests in the background.
func (p *uringPoller) moveOps() {
	p.ops.each(func(h handle, o *entry[uringOp]) {
		if o.v.done {
			return
		}
		if o.v.queued {
			o.v.queued = false
			if p.submitOp(uringDataOp|uint64(h), o) {
				return
			}
		} else {
			p.retired = append(p.retired, o.v.buf)
		}
		o.v.res = -int32(unix.ECANCELED)
		p.late = p.opDone(p.late, o)
	})
}

// completeOp records the completion c of an operation; a completion of an
// operation since cancelled is dropped.
func (p *uringPoller) completeOp(evs []readyEvent, c *uringCQE) []readyEvent {
	_, o := p.op(c.userData)
	if o == nil || o.v.done {
		return evs
	}
	if c.res == -int32(unix.EBADF) && o.v.fixed && p.resend(c.userData, o) {
		return evs
	}
	o.v.res = c.res
	return p.opDone(evs, o)
}

// opDone marks operation o done, with its result in o.v.res, and tells the
// loop.
func (p *uringPoller) opDone(evs []readyEvent, o *entry[uringOp]) []readyEvent {
	o.v.done = true
	switch o.v.kind {
	case uringOpKindSend:
		evs = append(evs, readyEvent{h: o.v.h, ev: evWrite})
	case uringOpKindFile:
		evs = append(evs, readyEvent{h: o.v.h})
	}
	return evs
}

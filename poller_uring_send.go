//go:build linux

package eventcore

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// Sends through the ring (fdio_ring.go): IORING_OP_SEND for what a
// non-blocking send left. The kernel arms its own poll of the socket and
// sends when there is room; under DEFER_TASKRUN that happens inside the
// loop's wait, which then finds the completion.
//
// Every send is an entry of the poller's ops table, and its handle, tagged
// with uringDataOp, is the request's user_data. The entry references the
// buffer until the completion arrives, or until a cancel has seen it
// arrive; a completion reaped after the entry was freed names a stale
// generation and is dropped.

// uringDataOp tags the user_data of an operation (an ops handle, whose kind
// bits are zero); registrations' generations stay below bit 62.
const uringDataOp = 1 << 62

// uringCancelWait bounds each wait of a cancel for the cancelled send's
// completion; it waits again until that arrives.
const uringCancelWait = 10_000_000 // ns

// uringSend is one send in flight, or completed and not yet taken.
type uringSend struct {
	h      handle // the socket, reported writable when the send completes
	fd     sysFD
	buf    []byte // what the kernel reads from until it completes
	res    int32  // the completion's result: bytes sent, or -errno
	done   bool
	queued bool // rebind: still in the left ring's queue, never submitted
}

func (p *uringPoller) send(fd sysFD, h handle, buf []byte) uint64 {
	oh, o := p.ops.alloc(kindNone)
	if o == nil {
		return 0
	}
	o.v = uringSend{h: h, fd: fd, buf: buf}
	id := uringDataOp | uint64(oh)
	if !p.submitSend(id, o) {
		p.ops.release(oh, o)
		return 0
	}
	return id
}

// submitSend queues the send o, whose user data is id.
func (p *uringPoller) submitSend(id uint64, o *entry[uringSend]) bool {
	e := p.sqe()
	if e == nil {
		return false
	}
	e.opcode = uringOpSend
	e.fd = o.v.fd
	e.addr = uint64(uintptr(unsafe.Pointer(unsafe.SliceData(o.v.buf))))
	e.len = uint32(min(len(o.v.buf), 1<<30))
	e.opFlags = unix.MSG_NOSIGNAL
	e.userData = id
	return true
}

// op returns the live operation id names, nil if none.
func (p *uringPoller) op(id uint64) (handle, *entry[uringSend]) {
	h := handle(id &^ uringDataOp)
	return h, p.ops.get(h, kindNone)
}

func (p *uringPoller) sent(id uint64) (int, bool, error) {
	h, o := p.op(id)
	if o == nil {
		return 0, true, unix.ECANCELED // not one of ours: cannot happen
	}
	if !o.v.done {
		return 0, false, nil
	}
	res := o.v.res
	p.ops.release(h, o)
	if res < 0 {
		return 0, true, unix.Errno(-res)
	}
	return int(res), true, nil
}

// cancelSend cancels the send and forgets it. Until the send's completion
// is posted the kernel may still read the buffer, or send more of it, so
// the cancel runs the ring until then; under DEFER_TASKRUN it takes effect
// in the enter that submits it. Should the ring fail meanwhile, the buffer
// stays referenced until the poller closes.
func (p *uringPoller) cancelSend(id uint64) {
	h, o := p.op(id)
	if o == nil {
		return
	}
	if !o.v.done && !p.cancelled(id, o) {
		p.retired = append(p.retired, o.v.buf)
	}
	p.ops.release(h, o)
}

// cancelled submits the cancel of send id and reports whether its
// completion has come.
func (p *uringPoller) cancelled(id uint64, o *entry[uringSend]) bool {
	e := p.sqe()
	if e == nil {
		return false
	}
	e.opcode = uringOpAsyncCancel
	e.fd = -1
	e.addr = id
	e.userData = uringDataIgnore
	err := p.enter(uringEnterGetEvents, 0, nil, false)
	for err == nil && !o.v.done && !p.r.posted(id) {
		head, tail := p.r.completions()
		p.ts = unix.NsecToTimespec(uringCancelWait)
		p.arg.ts = uint64(uintptr(unsafe.Pointer(&p.ts)))
		switch err = p.enter(uringEnterGetEvents, tail-head+1, &p.arg, true); err {
		case unix.ETIME, unix.EINTR:
			err = nil
		}
	}
	return err == nil
}

// queuedSends marks the sends still in the queue of ring r, which the
// poller is leaving (rebind): the kernel never saw them.
func (p *uringPoller) queuedSends(r *uring) {
	r.queued(func(e *uringSQE) {
		if e.opcode == uringOpSend {
			if _, o := p.op(e.userData); o != nil {
				o.v.queued = true
			}
		}
	})
}

// moveSends takes the sends of the ring the poller left (rebind) to the
// new one. Those the old ring never saw are submitted again; the others
// will never complete, and what they sent is unknown, so they fail
// (ECANCELED), their buffers referenced until the poller closes, as the
// kernel frees the old ring's requests in the background.
func (p *uringPoller) moveSends() {
	p.ops.each(func(h handle, o *entry[uringSend]) {
		if o.v.done {
			return
		}
		if o.v.queued {
			o.v.queued = false
			if p.submitSend(uringDataOp|uint64(h), o) {
				return
			}
		} else {
			p.retired = append(p.retired, o.v.buf)
		}
		o.v.done, o.v.res = true, -int32(unix.ECANCELED)
		p.late = append(p.late, readyEvent{h: o.v.h, ev: evWrite})
	})
}

// sendDone records a send's completion and reports its socket writable;
// a completion of a send since cancelled is dropped.
func (p *uringPoller) sendDone(evs []readyEvent, c *uringCQE) []readyEvent {
	_, o := p.op(c.userData)
	if o == nil || o.v.done {
		return evs
	}
	o.v.done, o.v.res = true, c.res
	return append(evs, readyEvent{h: o.v.h, ev: evWrite})
}

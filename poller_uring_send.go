//go:build linux

package eventcore

import "golang.org/x/sys/unix"

// Sends through the ring (fdio_ring.go): IORING_OP_SEND for a stream
// write that may wait, from its start. The loop's next io_uring_enter
// submits it; the kernel sends what the socket has room for, or arms its
// own poll of the socket and sends when there is room, which under
// DEFER_TASKRUN happens inside a later wait of the loop. The completion
// reports the socket writable, with the count sent (fewer bytes than
// asked: the loop sends the rest). The operation (poller_uring_ops.go)
// keeps the buffer.

func (p *uringPoller) send(fd sysFD, h handle, buf []byte) uint64 {
	return p.startOp(uringOp{kind: uringOpKindSend, h: h, fd: fd, buf: buf})
}

func prepSend(e *uringSQE) {
	e.opcode = uringOpSend
	e.opFlags = unix.MSG_NOSIGNAL
}

func (p *uringPoller) sent(id uint64) (int, bool, error) { return p.opOutcome(id) }

func (p *uringPoller) cancelSend(id uint64) int {
	if res := p.cancelOp(id); res > 0 {
		return int(res)
	}
	return 0
}

//go:build linux

package eventcore

import "golang.org/x/sys/unix"

// Sends through the ring (fdio_ring.go): IORING_OP_SEND for what a
// non-blocking send left. The kernel arms its own poll of the socket and
// sends when there is room; under DEFER_TASKRUN that happens inside the
// loop's wait, which then finds the completion and reports the socket
// writable. The operation (poller_uring_ops.go) keeps the buffer.

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

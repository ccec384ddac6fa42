package eventcore

import "time"

// The part of the socket implementation that every driver family shares:
// the socket object, the pending-operation record, and the bookkeeping
// around callbacks. How an operation is carried out (readiness and
// non-blocking calls in sockets_posix.go, overlapped I/O in
// sockets_windows.go) is the family's own.

// fdObj is a socket. fd is the descriptor (a SOCKET on Windows), invalidFD
// once closed; sys holds what only one family needs.
type fdObj struct {
	fd     sysFD
	state  ConnectionState
	flags  fdFlags
	rd, wr ioOp
	ext    *fdExt
	sys    fdSys
}

type fdFlags uint8

const (
	fdUnix      fdFlags = 1 << iota // AF_UNIX
	fdIPv6                          // AF_INET6
	fdShutWrite                     // we shut down writing
)

// ioOp is one pending operation: a read or receive (fdObj.rd), a write,
// send or connect (fdObj.wr), or a listener's accept callback (rd).
type ioOp struct {
	buf    []byte
	done   int
	cb     any // IOCallback, DatagramIOCallback, ConnectCallback or AcceptCallback
	mode   IOMode
	active bool
}

// fdExt holds what only some sockets need.
type fdExt struct {
	to       Addr   // datagram: where the pending send goes
	peerPath string // datagram: last Unix-domain sender, reused when it repeats
	unlink   string // Unix listener: the socket file to remove when freed
}

// maxAcceptBatch bounds the connections accepted in one go, so that a
// flood of them cannot starve the loop's other work.
const maxAcceptBatch = 64

// fdEntry returns the live socket entry h names, whatever its kind.
func (l *loop) fdEntry(h handle) *entry[fdObj] {
	switch k := h.kind(); k {
	case kindStreamSocket, kindStreamListener, kindDatagramSocket:
		return l.fds.get(h, k)
	}
	return nil
}

func (l *loop) callConnect(cb ConnectCallback, h handle, st ConnectStatus) {
	if cb != nil {
		l.depth++
		cb(StreamSocket{h}, st)
		l.depth--
	}
}

func statusSoFar(op *ioOp) IOStatus {
	if op.done > 0 {
		return IOStatusOK
	}
	return IOStatusWouldBlock
}

func (l *loop) completeStream(h handle, op *ioOp, st IOStatus) { l.complete(h, op, st, Addr{}) }

// complete ends the pending operation op of h and runs its callback.
func (l *loop) complete(h handle, op *ioOp, st IOStatus, addr Addr) {
	cb, n := op.cb, op.done
	*op = ioOp{}
	l.waiters--
	l.depth++
	switch cb := cb.(type) {
	case IOCallback:
		if cb != nil {
			cb(StreamSocket{h}, st, n)
		}
	case DatagramIOCallback:
		if cb != nil {
			cb(DatagramSocket{h}, st, n, addr)
		}
	}
	l.depth--
}

func (l *loop) callIO(cb IOCallback, h handle, st IOStatus, n int) {
	if cb != nil {
		l.depth++
		cb(StreamSocket{h}, st, n)
		l.depth--
	}
}

func (l *loop) callDgram(cb DatagramIOCallback, h handle, st IOStatus) {
	if cb != nil {
		l.depth++
		cb(DatagramSocket{h}, st, 0, Addr{})
		l.depth--
	}
}

func (l *loop) sockState(h handle) ConnectionState {
	if e := l.fds.get(h, kindStreamSocket); e != nil {
		return e.v.state
	}
	return ConnectionClosed
}

func (l *loop) sockAddRef(h handle) {
	if e := l.fdEntry(h); e != nil {
		e.refs++
	}
}

func (l *loop) sockRelease(h handle) bool {
	e := l.fdEntry(h)
	if e == nil {
		return false
	}
	if e.refs--; e.refs > 0 {
		return true
	}
	l.closeFD(h, e)
	return false
}

// ceilSeconds rounds a keep-alive duration up to whole seconds, at least 1.
func ceilSeconds(d time.Duration) int {
	return int(max((d+time.Second-1)/time.Second, 1))
}

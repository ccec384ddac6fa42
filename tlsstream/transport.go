package tlsstream

import (
	"io"
	"net"
	"time"

	"github.com/eventcore-go/eventcore"
)

// transport is the net.Conn under a stream's tls.Conn. During the
// handshake, which runs on a handshaker goroutine, it hands over to the
// loop (handshake.go). After it, crypto/tls runs on the loop and the
// transport does the socket's I/O itself, without waiting: Read takes what
// a loaned read brought (see recv) or the kernel has, into crypto/tls's
// record buffer, or returns errWouldBlock; Write writes what the kernel
// takes at once and queues the rest, which the stream flushes after every
// call into crypto/tls.
type transport struct{ s *Stream }

// wouldBlock is the transport's "no data yet". It is a net.Error whose
// Temporary (and Timeout) is true, the one kind of read error that
// crypto/tls does not make sticky (Conn.readRecordOrCCS): a record read in
// part stays in its buffer, and the next Read goes on with it.
type wouldBlock struct{}

func (wouldBlock) Error() string   { return "tlsstream: no data yet" }
func (wouldBlock) Timeout() bool   { return true }
func (wouldBlock) Temporary() bool { return true }

var errWouldBlock net.Error = wouldBlock{}

func (t *transport) Read(p []byte) (int, error) {
	if hs := t.s.hs; hs != nil {
		return hs.read(p)
	}
	return t.s.recv(p)
}

func (t *transport) Write(p []byte) (int, error) {
	if hs := t.s.hs; hs != nil {
		return hs.write(p)
	}
	return t.s.send(p)
}

// Close does nothing: the stream closes its socket itself.
func (t *transport) Close() error { return nil }

func (t *transport) LocalAddr() net.Addr  { return t.addr(false) }
func (t *transport) RemoteAddr() net.Addr { return t.addr(true) }

func (t *transport) addr(remote bool) net.Addr {
	s := t.s
	if hs := s.hs; hs != nil { // on the handshaker: taken beforehand
		if remote {
			return hs.remote
		}
		return hs.local
	}
	get := s.l.s.LocalAddress
	if remote {
		get = s.l.s.RemoteAddress
	}
	a, _ := get(s.sock)
	return netAddr(a)
}

// The deadlines do nothing: the loop never blocks, and the handshake is
// bounded by Config.HandshakeTimeout.
func (t *transport) SetDeadline(time.Time) error      { return nil }
func (t *transport) SetReadDeadline(time.Time) error  { return nil }
func (t *transport) SetWriteDeadline(time.Time) error { return nil }

// recv gives p what a loaned read left aside, or brought and its callback
// runs, or else what the socket has now (on the loop). After a short read
// the socket is known to be empty until it is next reported readable:
// recv then says so without a system call (the wait that follows checks
// the socket first, so bytes that came meanwhile are not missed), unless
// an immediate read asks (op.fresh).
func (s *Stream) recv(p []byte) (n int, err error) {
	from := recvNone
	switch {
	case s.freed:
		err = ErrClosed
	case len(s.spill) > 0:
		from = recvSpill
		n = copy(p, s.spill)
		if s.spill = s.spill[n:]; len(s.spill) == 0 {
			s.spill = nil // no buffer at rest
		}
	case s.loan != nil:
		from = recvLoan
		if len(s.loan) == 0 {
			err = errWouldBlock // the callback's loan is spent: wait for more
		}
		n = copy(p, s.loan)
		s.loan = s.loan[n:]
	case s.drained && !s.rd.fresh:
		err = errWouldBlock
	default:
		from = recvSocket
		n, err = s.readSocket(p)
	}
	if testHookRecv != nil {
		testHookRecv(s, n, err, from)
	}
	return n, err
}

// Where recv took bytes from, for testHookRecv.
type recvFrom uint8

const (
	recvNone   recvFrom = iota // nowhere: an error, or known to be empty
	recvSocket                 // a read of the socket
	recvLoan                   // a loaned read's buffer, its callback running
	recvSpill                  // what a loaned read left
)

func (s *Stream) readSocket(p []byte) (int, error) {
	s.rd.fresh = false
	l := s.l
	l.s.Read(s.sock, p, eventcore.IOModeImmediate, l.onImm)
	switch l.immSt {
	case eventcore.IOStatusOK:
		s.drained = l.immN < len(p)
		return l.immN, nil
	case eventcore.IOStatusWouldBlock:
		return 0, errWouldBlock
	case eventcore.IOStatusDisconnected:
		s.disc = true
		if err := l.d.LastError(s.sock); err != nil {
			return 0, err // a reset
		}
		return 0, io.EOF
	}
	return 0, s.sockErr()
}

// testHookRecv, if set by a test, sees what each read of the transport on
// the loop returned to crypto/tls, and where it took it from.
var testHookRecv func(s *Stream, n int, err error, from recvFrom)

// send writes what the socket takes of p now and queues the rest, for the
// flush that follows the call into crypto/tls (on the loop).
func (s *Stream) send(p []byte) (int, error) {
	if s.freed {
		return 0, ErrClosed
	}
	n := 0
	if !s.flying && len(s.more) == 0 {
		l := s.l
		l.s.Write(s.sock, p, eventcore.IOModeImmediate, l.onImm)
		switch l.immSt {
		case eventcore.IOStatusOK, eventcore.IOStatusWouldBlock:
			n = l.immN
		case eventcore.IOStatusDisconnected:
			s.disc = true
			return 0, s.sockErr()
		default:
			return 0, s.sockErr()
		}
	}
	if n < len(p) {
		s.more = append(s.more, p[n:]...)
	}
	return len(p), nil
}

// sockErr returns the error behind the socket's last failure status.
func (s *Stream) sockErr() error {
	if err := s.l.d.LastError(s.sock); err != nil {
		return err
	}
	return io.ErrUnexpectedEOF
}

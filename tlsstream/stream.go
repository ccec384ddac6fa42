package tlsstream

import (
	"crypto/tls"
	"errors"
	"io"

	"github.com/eventcore-go/eventcore"
)

// IOCallback is called once per Read or Write (unless cancelled) with the
// status and the number of bytes transferred (plaintext).
type IOCallback func(s *Stream, status eventcore.IOStatus, n int)

// HandshakeCallback is called once when a handshake ends: err is nil on
// success, else crypto/tls's error unchanged, ErrHandshakeTimeout, or the
// socket's error.
type HandshakeCallback func(s *Stream, err error)

// ErrHandshaking: the operation needs the handshake to have ended.
var ErrHandshaking = errors.New("tlsstream: the handshake has not ended")

// maxChunk is what a write encrypts at a time (a record's plaintext at
// most): what a stream queues for a peer that does not read is bounded by
// it.
const maxChunk = 16 << 10

// Stream is a TLS connection over a stream socket. Make one with
// [Layer.Server], [Layer.Client], [Layer.Listen] or [Layer.Dial].
//
// Its methods follow [eventcore.Sockets]: one read and one write may be
// pending at a time, each callback runs at most once, and exactly once
// unless its operation is cancelled (CancelRead, CancelWrite, Close);
// after a cancel returns its callback never runs. A callback may run
// before the call that started its operation returns. Misuse gets a
// status and LastError, never a panic.
//
// A stream at rest holds no goroutine and no buffer of its own: records
// come from a buffer the loop lends while they arrive (or straight from
// the socket, for an immediate read) into crypto/tls's record buffer and
// are decrypted into the caller's, on the loop; a write encrypts into a
// pooled buffer of crypto/tls's and hands it to the socket, and only what
// the socket does not take at once is copied and kept until it is sent.
//
// A stream that fails (a handshake error, a bad record, an alert from the
// peer, a reset, the handshake timeout) closes its socket at once: its
// pending operations complete with IOStatusError (IOStatusDisconnected if
// the connection was lost) and LastError tells why. Close is still
// allowed, and does nothing more.
type Stream struct {
	l    *Layer
	sock eventcore.StreamSocket
	tc   *tls.Conn
	t    transport
	hs   *handshake // while the handshake runs
	hcb  HandshakeCallback

	err   error // LastError
	hsErr error // how the handshake ended

	rd, wr op

	// The write queue: out is being written by the socket (flying), more
	// gathers what comes meanwhile. Both are nil while nothing waits.
	out, more []byte

	// loan is what a loaned read brought and crypto/tls has not taken yet,
	// while its callback runs; spill keeps what it left, for the reads
	// after (nil while empty).
	loan, spill []byte

	peek   [1]byte // a byte decrypted for a zero-length read, not yet taken
	peeked bool

	flying     bool // a write of out is pending on the socket
	connecting bool // Dial's connect is pending
	hsDone     bool // the handshake has ended (hsErr says how)
	freed      bool // the socket is closed: by Close, or a failure
	closed     bool // by Close
	disc       bool // the connection was lost, rather than failed
	eof        bool // the peer's close_notify (or end of stream) was read
	shutRd     bool
	shutWr     bool
	shutWrSock bool // the socket's writing is to be shut once out is sent
	rwait      bool // a read waits for the socket's data (a loaned read)
	drained    bool // the socket had no more to read, and has not been readable since
	released   bool // crypto/tls's handshake-sized input buffers are emptied (release.go)
	rstep      bool // readStep runs
	wstep      bool // writeStep runs
}

type op struct {
	buf    []byte
	done   int
	cb     IOCallback
	mode   eventcore.IOMode
	active bool
	fresh  bool // a read that reads the socket once even if drained
}

// attach makes s the stream of its socket (its user data).
func (s *Stream) attach() bool {
	p := eventcore.UserData[*Stream](s.l.d, s.sock)
	if p == nil || *p != nil {
		err := s.l.d.LastError(s.sock)
		if !errors.Is(err, eventcore.ErrInvalidHandle) && !errors.Is(err, eventcore.ErrDisposed) {
			err = ErrUserDataTaken
		}
		if p != nil {
			s.sock = eventcore.StreamSocket{} // another stream's
		}
		s.fail(err)
		return false
	}
	*p = s
	s.beginHandshake()
	return true
}

// Socket returns the stream's socket, for options and addresses; reading,
// writing, shutting down and releasing it are the stream's business.
func (s *Stream) Socket() eventcore.StreamSocket { return s.sock }

// State returns the state of the connection as [eventcore.ConnectionState]
// names it: ConnectionConnecting until the handshake has ended (and while
// Dial connects), then Connected, PassiveClose once the peer's
// close_notify (or the end of its stream) was read or we shut down
// reading, ActiveClose once we sent close_notify, Closed after both, a
// failure or Close.
func (s *Stream) State() eventcore.ConnectionState {
	rdDone := s.eof || s.shutRd
	switch {
	case s.freed:
		return eventcore.ConnectionClosed
	case !s.hsDone:
		return eventcore.ConnectionConnecting
	case rdDone && s.shutWr:
		return eventcore.ConnectionClosed
	case rdDone:
		return eventcore.ConnectionPassiveClose
	case s.shutWr:
		return eventcore.ConnectionActiveClose
	}
	return eventcore.ConnectionConnected
}

// ConnectionState returns crypto/tls's account of the connection (version,
// cipher suite, ALPN protocol, peer certificates, resumption); the zero
// value until the handshake has succeeded.
func (s *Stream) ConnectionState() tls.ConnectionState {
	if !s.hsDone || s.hsErr != nil || s.tc == nil {
		return tls.ConnectionState{}
	}
	return s.tc.ConnectionState()
}

// LastError returns the error behind the last failure status the stream
// reported, nil if none: crypto/tls's errors unchanged (a *net.OpError
// "remote error" for an alert received, a *tls.CertificateVerificationError
// for a certificate refused, a tls.RecordHeaderError for what is not TLS or
// a record over the size limit, io.ErrUnexpectedEOF for a stream cut
// within a record), ErrHandshakeTimeout, or the socket's error.
func (s *Stream) LastError() error { return s.err }

// Handshake calls cb once the handshake has ended (see
// [HandshakeCallback]); at once, before Handshake returns, if it has. Only
// one may wait: a second call gets ErrBusy.
func (s *Stream) Handshake(cb HandshakeCallback) {
	switch {
	case s.hsDone:
		cb(s, s.hsErr)
	case s.hcb != nil:
		s.err = ErrBusy
		cb(s, ErrBusy)
	default:
		s.hcb = cb
	}
}

// refuse answers an operation the stream cannot start, or reports false.
func (s *Stream) refuse(o *op, write bool, cb IOCallback) bool {
	var st eventcore.IOStatus
	switch {
	case s.closed:
		s.err, st = ErrClosed, eventcore.IOStatusInvalidHandle
	case s.freed:
		st = s.failStatus()
	case o.active:
		s.err, st = ErrBusy, eventcore.IOStatusBusy
	case write && s.shutWr, !write && s.shutRd:
		s.err, st = ErrClosed, eventcore.IOStatusDisconnected
	case !write && s.eof && !s.peeked:
		st = eventcore.IOStatusDisconnected
	default:
		return false
	}
	cb(s, st, 0)
	return true
}

// Read decrypts into buf and calls cb with the status and the byte count,
// with the IOModes of [eventcore.Sockets.Read]: IOModeImmediate takes what
// has arrived (IOStatusWouldBlock if no whole record has), IOModeOnce
// waits for at least one byte, IOModeAll for the whole buffer. With a
// zero-length buf and IOModeOnce or IOModeAll it waits until data can be
// read, without consuming it (the stream keeps one decrypted byte aside).
//
// The peer's close_notify, or the end of its stream at a record boundary,
// completes a read with IOStatusDisconnected (and the bytes read so far)
// and moves the stream to ConnectionPassiveClose; a stream cut within a
// record fails (io.ErrUnexpectedEOF). Before the handshake has ended,
// IOModeImmediate gives IOStatusWouldBlock and the other modes wait for
// it. cb may run before Read returns.
func (s *Stream) Read(buf []byte, mode eventcore.IOMode, cb IOCallback) {
	if s.refuse(&s.rd, false, cb) {
		return
	}
	if !s.hsDone && mode == eventcore.IOModeImmediate {
		cb(s, eventcore.IOStatusWouldBlock, 0)
		return
	}
	// An immediate read must see what came since the socket was last
	// read, with no wait to check for it: it reads the socket once even if
	// drained, should crypto/tls need bytes. Only then: the next wait
	// still skips the read that would find nothing.
	s.rd = op{buf: buf, cb: cb, mode: mode, active: true, fresh: mode == eventcore.IOModeImmediate}
	if s.hsDone {
		s.readStep()
	}
}

// WaitForData calls cb once data (or the end of the stream) can be read,
// without reading: Read with an empty buffer and IOModeOnce.
func (s *Stream) WaitForData(cb IOCallback) { s.Read(nil, eventcore.IOModeOnce, cb) }

// CancelRead cancels the pending read, if any: its callback will not run.
// Bytes it has already decrypted into the buffer are lost to the caller.
func (s *Stream) CancelRead() {
	s.rd = op{}
	if s.rwait {
		s.rwait = false
		s.l.s.CancelRead(s.sock)
	}
}

// readStep advances the pending read as far as it can without waiting.
func (s *Stream) readStep() {
	if s.rstep {
		return // an outer readStep goes on with it
	}
	s.rstep = true
	for s.rd.active && !s.freed && !s.rwait {
		s.readOnce()
	}
	s.rstep = false
}

// readOnce makes one call into crypto/tls for the pending read, and
// completes it or waits for the socket.
func (s *Stream) readOnce() {
	o := &s.rd
	var n int
	var err error
	if len(o.buf) == 0 {
		if !s.peeked {
			n, err = s.tc.Read(s.peek[:])
			s.peeked = n == 1
			n = 0
		}
	} else {
		n, err = s.decrypt(o.buf[o.done:])
	}
	s.flush() // a key update's answer
	if s.freed || !o.active {
		return
	}
	blocked := err == errWouldBlock && n == 0
	if err == errWouldBlock {
		err = nil
	}
	o.done += n
	switch {
	case len(o.buf) == 0 && s.peeked, n > 0 && (o.mode != eventcore.IOModeAll || o.done == len(o.buf)):
		// An error after the bytes (the peer's close_notify behind them)
		// is crypto/tls's sticky error: the next read gets it.
		s.completeRead(eventcore.IOStatusOK)
	case err == io.EOF:
		s.eof = true
		s.completeRead(eventcore.IOStatusDisconnected)
	case err != nil:
		s.fail(err)
	case blocked && o.mode == eventcore.IOModeImmediate:
		if o.done > 0 {
			s.completeRead(eventcore.IOStatusOK)
		} else {
			s.completeRead(eventcore.IOStatusWouldBlock)
		}
	case blocked:
		if !s.released && s.hsDone {
			s.released = releaseInputBuffers(s.tc)
		}
		s.rwait = true
		s.l.s.ReadLoaned(s.sock, s.l.onLoaned)
	}
}

// decrypt reads plaintext into p, the byte kept aside first.
func (s *Stream) decrypt(p []byte) (int, error) {
	if !s.peeked {
		return s.tc.Read(p)
	}
	p[0] = s.peek[0]
	s.peeked = false
	if len(p) == 1 {
		return 1, nil
	}
	n, err := s.tc.Read(p[1:])
	return 1 + n, err
}

// loaned goes on with the waiting read once the socket's data came, in a
// buffer the loop lends until it returns: crypto/tls takes what it needs
// of it for the read, and what it leaves is copied aside. The socket is
// then taken as drained: a read that needs more waits for it (with a
// loaned read, which reads at once what is there), rather than reading
// the socket first. At the end of the peer's stream the read of the
// socket itself tells how it ended.
func (l *Layer) loaned(sock eventcore.StreamSocket, st eventcore.IOStatus, data []byte) {
	s := l.stream(sock)
	if s == nil || !s.rwait {
		return
	}
	s.rwait, s.drained = false, false
	if st != eventcore.IOStatusOK && st != eventcore.IOStatusDisconnected {
		s.fail(s.sockErr())
		return
	}
	s.loan = data
	s.readStep()
	if len(s.loan) > 0 && !s.freed {
		s.spill = append(s.spill, s.loan...)
	}
	s.loan = nil
	s.drained = st == eventcore.IOStatusOK
}

func (s *Stream) completeRead(st eventcore.IOStatus) {
	o := s.rd
	s.rd = op{}
	o.cb(s, st, o.done)
}

// Write encrypts buf and calls cb with the status and the byte count, with
// the IOModes of [eventcore.Sockets.Write]: IOModeImmediate encrypts what
// the socket takes at once (IOStatusWouldBlock if it still holds earlier
// records), IOModeOnce up to one record's worth (16 KiB), IOModeAll the
// whole buffer. The bytes a completed write counts are the stream's: what
// the socket has not taken yet is kept (at most one record's worth at a
// time) and sent before anything written later. The caller must not
// change buf until cb runs. After close_notify was sent (Shutdown), a
// write completes with IOStatusDisconnected and 0 bytes. Before the
// handshake has ended, IOModeImmediate gives IOStatusWouldBlock and the
// other modes wait for it. cb may run before Write returns.
func (s *Stream) Write(buf []byte, mode eventcore.IOMode, cb IOCallback) {
	if s.refuse(&s.wr, true, cb) {
		return
	}
	switch {
	case !s.hsDone && mode == eventcore.IOModeImmediate:
		cb(s, eventcore.IOStatusWouldBlock, 0)
		return
	case len(buf) == 0:
		cb(s, eventcore.IOStatusOK, 0)
		return
	}
	s.wr = op{buf: buf, cb: cb, mode: mode, active: true}
	if s.hsDone {
		s.writeStep()
	}
}

// CancelWrite cancels the pending write, if any: its callback will not
// run. What it has encrypted is still sent, so that the record stream
// stays whole.
func (s *Stream) CancelWrite() { s.wr = op{} }

// writeStep advances the pending write as far as it can without waiting.
func (s *Stream) writeStep() {
	if s.wstep {
		return // an outer writeStep goes on with it
	}
	s.wstep = true
	for o := &s.wr; o.active && !s.freed; {
		if s.flying {
			// Earlier records wait for the socket: the write goes on when
			// they are sent (flushed).
			if o.mode == eventcore.IOModeImmediate {
				s.completeWrite(eventcore.IOStatusWouldBlock)
			}
			break
		}
		chunk := o.buf[o.done:]
		if len(chunk) > maxChunk {
			chunk = chunk[:maxChunk]
		}
		n, err := s.tc.Write(chunk)
		s.flush()
		if s.freed || !o.active {
			break
		}
		o.done += n
		switch {
		case err != nil:
			s.fail(err)
		case o.mode != eventcore.IOModeAll || o.done == len(o.buf):
			s.completeWrite(eventcore.IOStatusOK)
		}
	}
	s.wstep = false
}

func (s *Stream) completeWrite(st eventcore.IOStatus) {
	o := s.wr
	s.wr = op{}
	o.cb(s, st, o.done)
}

// flush starts writing the queued bytes, unless a write of them is
// pending already.
func (s *Stream) flush() {
	if s.flying || len(s.more) == 0 || s.freed {
		return
	}
	s.out, s.more = s.more, s.out[:0]
	s.flying = true
	s.l.s.Write(s.sock, s.out, eventcore.IOModeAll, s.l.onFlushed)
}

func (l *Layer) flushed(sock eventcore.StreamSocket, st eventcore.IOStatus, _ int) {
	s := l.stream(sock)
	if s == nil || !s.flying {
		return
	}
	s.flying = false
	if st != eventcore.IOStatusOK {
		s.disc = st == eventcore.IOStatusDisconnected
		s.fail(s.sockErr())
		return
	}
	if len(s.more) > 0 {
		s.flush()
	} else {
		s.out, s.more = nil, nil // nothing waits: hold no buffer
	}
	if hs := s.hs; hs != nil {
		hs.flushed()
		return
	}
	if s.shutWrSock && !s.flying {
		s.shutWrSock = false
		s.l.s.Shutdown(s.sock, false, true)
	}
	s.writeStep()
}

// Shutdown shuts down reading, writing or both. Shutting down writing
// sends close_notify (and, once it is sent, the end of the socket's
// stream); a pending write completes with IOStatusDisconnected, and so do
// later ones. Shutting down reading drops what the peer sends from then
// on; a pending read completes with IOStatusDisconnected, and so do later
// ones. Both need the handshake to have ended (ErrHandshaking otherwise).
// The state follows, as [Stream.State] tells.
func (s *Stream) Shutdown(read, write bool) error {
	switch {
	case s.freed:
		return ErrClosed
	case !s.hsDone:
		return ErrHandshaking
	}
	if read && !s.shutRd {
		s.shutRd = true
		o := s.rd
		s.CancelRead()
		s.spill = nil // no read will take it
		s.l.s.Shutdown(s.sock, true, false)
		if o.active {
			s.err = ErrClosed
			o.cb(s, eventcore.IOStatusDisconnected, o.done)
		}
	}
	if write && !s.shutWr && !s.freed {
		s.shutWr = true
		o := s.wr
		s.wr = op{}
		err := s.tc.CloseWrite()
		s.flush()
		if s.flying {
			s.shutWrSock = true
		} else if !s.freed {
			s.l.s.Shutdown(s.sock, false, true)
		}
		if o.active {
			s.err = ErrClosed
			o.cb(s, eventcore.IOStatusDisconnected, o.done)
		}
		if err != nil {
			s.fail(err)
			return err
		}
	}
	return nil
}

// Close closes the stream: it sends close_notify if the handshake has
// succeeded and writing is not shut down yet (as much of it as the socket
// takes at once, after what is queued), and closes the socket. Pending
// operations are cancelled: their callbacks do not run, nor does a
// pending handshake callback. A handshake in progress is abandoned; its
// goroutine ends at once. Close on a closed stream does nothing.
func (s *Stream) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	s.hcb = nil
	s.rd, s.wr = op{}, op{}
	if s.freed {
		return nil
	}
	if s.hsDone && s.hsErr == nil && !s.shutWr {
		s.shutWr = true
		s.tc.CloseWrite()
		s.flush()
	}
	s.free()
	return nil
}

// fail closes the stream after an error: its socket is closed, and the
// pending operations complete with the error.
func (s *Stream) fail(err error) {
	if s.freed {
		return
	}
	s.err = err
	if !s.hsDone {
		s.hsDone, s.hsErr = true, err
	}
	s.free()
	hcb, rd, wr := s.hcb, s.rd, s.wr
	s.hcb, s.rd, s.wr = nil, op{}, op{}
	st := s.failStatus()
	if hcb != nil {
		hcb(s, err)
	}
	if rd.active {
		rd.cb(s, st, rd.done)
	}
	if wr.active {
		wr.cb(s, st, wr.done)
	}
}

func (s *Stream) failStatus() eventcore.IOStatus {
	if s.disc {
		return eventcore.IOStatusDisconnected
	}
	return eventcore.IOStatusError
}

// free closes the socket. A handshake goroutine may still own the write
// queue: finish drops it.
func (s *Stream) free() {
	s.freed = true
	s.rwait, s.flying = false, false
	s.loan, s.spill = nil, nil
	if hs := s.hs; hs != nil {
		hs.abort()
	} else {
		s.out, s.more = nil, nil
	}
	if s.connecting {
		s.connecting = false
		s.l.s.CancelConnectStream(s.sock)
	} else if s.sock != (eventcore.StreamSocket{}) {
		s.l.s.ReleaseRef(s.sock)
	}
}

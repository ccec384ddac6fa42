package eventcore

import (
	"bytes"
	"testing"
)

// After CancelWrite returns, the socket never sends from the write's
// buffer again: bytes the caller puts there afterwards never reach the
// peer. (On winapi the part send did not take is with the kernel, in an
// overlapped send, until the cancel has waited for its completion.)
func TestStreamCancelWriteKeepsBuffer(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *Driver) {
		s := d.Sockets()
		c, srv := streamPair(t, d, MustParseAddr("127.0.0.1:0"))
		buf := bytes.Repeat([]byte("a"), 32<<20) // more than the socket buffers hold
		s.Write(c, buf, IOModeAll, func(StreamSocket, IOStatus, int) { t.Error("cancelled write called") })
		s.CancelWrite(c)
		copy(buf, bytes.Repeat([]byte("B"), len(buf))) // the caller reuses its buffer
		s.ReleaseRef(c)                                // the peer reads to the end
		rbuf := make([]byte, 1<<16)
		foreign, done := false, false
		var read IOCallback
		read = func(sk StreamSocket, st IOStatus, n int) {
			foreign = foreign || bytes.Count(rbuf[:n], []byte("a")) != n
			if st == IOStatusOK {
				s.Read(sk, rbuf, IOModeOnce, read)
			} else {
				done = true
			}
		}
		s.Read(srv, rbuf, IOModeOnce, read)
		runUntil(t, d, "the end of the stream", func() bool { return done })
		if foreign {
			t.Error("bytes put into the buffer after CancelWrite were sent")
		}
		s.ReleaseRef(srv)
	})
}

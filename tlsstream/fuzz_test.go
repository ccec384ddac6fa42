package tlsstream

import (
	"bytes"
	"crypto/tls"
	"net"
	"testing"

	"github.com/eventcore-go/eventcore"
)

// FuzzRecordFeed feeds our server the records of a crypto/tls client cut
// into pieces of the sizes the input gives (cycled), one byte of them
// flipped by xor at position at (xor 0: none), after a real handshake. An
// intact stream must read back whole; a corrupted one must fail with an
// error and close, never deliver wrong bytes or hang.
func FuzzRecordFeed(f *testing.F) {
	f.Add([]byte{1}, uint16(0), uint8(0), false)
	f.Add([]byte{5, 0, 200}, uint16(0), uint8(0), true)
	f.Add([]byte{255, 255, 255}, uint16(3), uint8(0x40), false)
	f.Add([]byte{2, 7}, uint16(40), uint8(1), true)
	f.Add([]byte{100}, uint16(1), uint8(0x80), false)
	p := certs(f)
	msg := bytes.Repeat([]byte("fuzzed records "), 300) // a few records
	f.Fuzz(func(t *testing.T, sizes []byte, at uint16, xor uint8, tls13 bool) {
		v := uint16(tls.VersionTLS12)
		if tls13 {
			v = tls.VersionTLS13
		}
		d, l := newTestLayer(t, testDrivers()[0], Config{})
		o := listenOne(t, d, l, p.serverConfig(v))
		c, cc := handshakeStd(t, d, o, p.clientConfig(v))
		recs := sealed(t, c, cc, msg)
		if xor != 0 {
			recs[int(at)%len(recs)] ^= xor
		}
		buf := make([]byte, len(msg))
		r := readInto(o.s, buf, eventcore.IOModeAll)
		feed := goResult(func() error {
			for i, k := 0, 0; i < len(recs); k++ {
				n := 1
				if len(sizes) > 0 {
					n = max(int(sizes[k%len(sizes)]), 1)
				}
				n = min(n, len(recs)-i)
				if _, err := cc.Conn.Write(recs[i : i+n]); err != nil {
					return nil // the server closed on a bad record
				}
				i += n
			}
			return cc.Conn.(*net.TCPConn).CloseWrite()
		})
		runUntil(t, d, "the read's end", func() bool { return r.done })
		switch {
		case xor == 0 && (r.st != eventcore.IOStatusOK || !bytes.Equal(buf, msg)):
			t.Fatalf("intact records: %v, %d bytes, LastError %v", r.st, r.n, o.s.LastError())
		case xor != 0 && (r.st == eventcore.IOStatusOK || o.s.LastError() == nil || o.s.State() != eventcore.ConnectionClosed):
			t.Fatalf("corrupted records: %v, %d bytes, LastError %v, state %v", r.st, r.n, o.s.LastError(), o.s.State())
		}
		o.s.Close()
		cc.Conn.Close()
		waitPeer(t, d, feed)
		d.Sockets().ReleaseRef(o.lst)
		checkDispose(t, d)
	})
}

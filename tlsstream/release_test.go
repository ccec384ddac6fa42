package tlsstream

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"testing"

	"github.com/eventcore-go/eventcore"
)

// inputCaps reads the capacities of c's record and handshake buffers.
func inputCaps(c *tls.Conn) (raw, hand int) {
	r, h, _ := inputBuffers(c)
	return r.Cap(), h.Cap()
}

// TestInputBuffersReleased: a server stream lets go of crypto/tls's
// handshake-sized input buffers when it first waits for a record with
// nothing buffered (not while a record is half read), once: a buffer grown
// later for a large record is kept, so reading allocates nothing in the
// steady state. Every byte arrives intact throughout.
func TestInputBuffersReleased(t *testing.T) {
	if !idleBufs.ok {
		t.Fatal("crypto/tls's input buffers were not found: release.go needs updating for this Go release")
	}
	p := certs(t)
	forEachVersion(t, Config{}, func(t *testing.T, d *eventcore.Driver, l *Layer, v uint16) {
		o, c, cc, end := servedStd(t, d, l, p, v)
		defer end()
		if raw, hand := inputCaps(o.s.tc); raw == 0 || hand == 0 {
			t.Fatalf("after the handshake, buffers of %d and %d bytes", raw, hand)
		}
		read := func(want []byte) {
			t.Helper()
			got := make([]byte, len(want))
			r := readInto(o.s, got, eventcore.IOModeAll)
			runUntil(t, d, "a read", func() bool { return r.done })
			if r.st != eventcore.IOStatusOK || !bytes.Equal(got, want) {
				t.Fatalf("read %v: %q, want %q", r.st, got[:r.n], want)
			}
		}

		// A record and half of another come at once, and an immediate read
		// (which does not wait) takes the first: the read after it waits
		// for the rest of the second and leaves the buffer that holds its
		// half alone.
		first, second := []byte("a request"), []byte("and another")
		recA := sealed(t, c, cc, first)
		recB := sealed(t, c, cc, second)
		half := len(recB) / 2
		if _, err := cc.Conn.Write(append(recA, recB[:half]...)); err != nil {
			t.Fatal(err)
		}
		arrived := false
		d.Sockets().WaitForData(o.s.sock, func(eventcore.StreamSocket, eventcore.IOStatus, int) { arrived = true })
		runUntil(t, d, "the bytes' arrival", func() bool { return arrived })
		got := make([]byte, len(first))
		if r := readInto(o.s, got, eventcore.IOModeImmediate); !r.done || r.st != eventcore.IOStatusOK || !bytes.Equal(got, first) {
			t.Fatalf("immediate read: %+v, %q", *r, got)
		}
		one := make([]byte, 1)
		r := readInto(o.s, one, eventcore.IOModeOnce)
		if raw, _ := inputCaps(o.s.tc); raw == 0 || o.s.released {
			t.Fatalf("released with half a record buffered (%d bytes left)", raw)
		}
		if _, err := cc.Conn.Write(recB[half:]); err != nil {
			t.Fatal(err)
		}
		runUntil(t, d, "the second record", func() bool { return r.done })
		if r.st != eventcore.IOStatusOK || r.n != 1 || one[0] != second[0] {
			t.Fatalf("read: %+v, %q", *r, one)
		}
		read(second[1:])

		// Nothing buffered: the next wait releases both.
		r = readInto(o.s, one, eventcore.IOModeOnce)
		if raw, hand := inputCaps(o.s.tc); raw != 0 || hand != 0 || !o.s.released {
			t.Fatalf("waiting with nothing buffered: buffers of %d and %d bytes", raw, hand)
		}
		small := []byte("x")
		if _, err := cc.Conn.Write(sealed(t, c, cc, small)); err != nil {
			t.Fatal(err)
		}
		runUntil(t, d, "a read after the release", func() bool { return r.done })
		if r.st != eventcore.IOStatusOK || r.n != 1 || one[0] != 'x' {
			t.Fatalf("read after the release: %+v, %q", *r, one)
		}

		// Large records grow the buffer again, for good.
		big := bytes.Repeat([]byte("0123456789abcdef"), 1024)
		if _, err := cc.Conn.Write(sealed(t, c, cc, big)); err != nil {
			t.Fatal(err)
		}
		read(big)
		grown, _ := inputCaps(o.s.tc)
		r = readInto(o.s, one, eventcore.IOModeOnce)
		if raw, _ := inputCaps(o.s.tc); raw != grown || grown < 4096 {
			t.Fatalf("the record buffer held %d bytes after large records, %d once waiting", grown, raw)
		}
		last := fmt.Appendf(nil, "the end, TLS %x", v)
		if _, err := cc.Conn.Write(sealed(t, c, cc, last)); err != nil {
			t.Fatal(err)
		}
		runUntil(t, d, "the last read", func() bool { return r.done })
		if r.st != eventcore.IOStatusOK || r.n != 1 || one[0] != last[0] {
			t.Fatalf("last read: %+v, %q", *r, one)
		}
		read(last[1:])
		o.s.Close()
	})
}

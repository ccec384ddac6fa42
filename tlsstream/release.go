package tlsstream

import (
	"bytes"
	"crypto/tls"
	"reflect"
	"unsafe"
)

// crypto/tls never shrinks a connection's input buffers: the record buffer
// keeps the size of the largest record it held, plus 512 bytes, and the
// handshake buffer that of the largest handshake message (golang/go#43563,
// #81348). For a server both are sized by the ClientHello, which a Go
// client's post-quantum key share makes about 1.6 KB: 3.6 KB of a
// connection's 7.7 KB at rest, kept for its whole life to serve 100-byte
// requests.
//
// A stream empties both, once, when it first waits for a record after its
// handshake with nothing buffered: an empty bytes.Buffer and one without
// memory behave alike, and crypto/tls grows the record buffer again to what
// the next record needs. That is done through crypto/tls's unexported
// fields, found by name and type when the package is loaded; where a Go
// release has changed them, nothing is emptied and nothing else changes.
// Only the loop touches a stream's tls.Conn once the handshake has ended,
// so nothing runs inside it meanwhile.

// idleBufs locates the input buffers in tls.Conn; ok is false where they
// are not as expected.
var idleBufs = findIdleBufs()

type bufFields struct {
	raw, hand, input uintptr // offsets of rawInput, hand and input
	ok               bool
}

func findIdleBufs() bufFields {
	t := reflect.TypeFor[tls.Conn]()
	field := func(name string, typ reflect.Type) (uintptr, bool) {
		f, ok := t.FieldByName(name)
		return f.Offset, ok && f.Type == typ && len(f.Index) == 1
	}
	buffer, reader := reflect.TypeFor[bytes.Buffer](), reflect.TypeFor[bytes.Reader]()
	raw, ok1 := field("rawInput", buffer)
	hand, ok2 := field("hand", buffer)
	input, ok3 := field("input", reader)
	return bufFields{raw, hand, input, ok1 && ok2 && ok3}
}

// releaseInputBuffers empties c's input buffers if all of them are empty,
// and says whether it did. input (the plaintext not yet read) is a view
// into the record buffer, so it lets go of it too.
func releaseInputBuffers(c *tls.Conn) bool {
	if !idleBufs.ok {
		return false
	}
	raw, hand, input := inputBuffers(c)
	if raw.Len() != 0 || hand.Len() != 0 || input.Len() != 0 {
		return false
	}
	*raw, *hand = bytes.Buffer{}, bytes.Buffer{}
	input.Reset(nil)
	return true
}

// inputBuffers points at c's record buffer, handshake buffer and
// plaintext reader; only where idleBufs.ok.
func inputBuffers(c *tls.Conn) (raw, hand *bytes.Buffer, input *bytes.Reader) {
	p := unsafe.Pointer(c)
	return (*bytes.Buffer)(unsafe.Add(p, idleBufs.raw)), (*bytes.Buffer)(unsafe.Add(p, idleBufs.hand)), (*bytes.Reader)(unsafe.Add(p, idleBufs.input))
}

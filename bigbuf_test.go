package eventcore

import (
	"testing"
	"unsafe"
)

// TestTransferOverIntMax: a read or a write whose buffer is longer than a
// C int counts (2 GiB) moves what the kernel takes in one call, as a
// shorter one does. macOS and the BSDs refuse such a length, Windows'
// recv and send take it as a negative int, and an io_uring request's
// length has 32 bits: without the cap each of them would fail the
// connection, or move less than it could.
func TestTransferOverIntMax(t *testing.T) {
	if unsafe.Sizeof(uintptr(0)) < 8 {
		t.Skip("needs a 64-bit address space")
	}
	if raceEnabled {
		t.Skip("the race detector's shadow of two 2 GiB buffers")
	}
	// Fresh from the OS, these take memory only where written to.
	out := make([]byte, 1<<31+64)
	in := make([]byte, 1<<31+64)
	copy(out, "hello")
	forEachDriver(t, func(t *testing.T, d *Driver) {
		client, server := streamPair(t, d, MustParseAddr("127.0.0.1:0"))
		s := d.Sockets()
		defer s.ReleaseRef(client)
		defer s.ReleaseRef(server)

		var wst, rst IOStatus
		wn, rn := -1, -1
		s.Write(client, out, IOModeOnce, func(_ StreamSocket, st IOStatus, n int) { wst, wn = st, n })
		runUntil(t, d, "the write", func() bool { return wn >= 0 })
		if wst != IOStatusOK || wn < len("hello") || wn > maxRW {
			t.Fatalf("write of %d bytes: %v, %d bytes (%v)", len(out), wst, wn, d.LastError(client))
		}
		s.Read(server, in, IOModeOnce, func(_ StreamSocket, st IOStatus, n int) { rst, rn = st, n })
		runUntil(t, d, "the read", func() bool { return rn >= 0 })
		if rst != IOStatusOK || rn < len("hello") || rn > wn {
			t.Fatalf("read into %d bytes: %v, %d bytes (%v)", len(in), rst, rn, d.LastError(server))
		}
		if string(in[:5]) != "hello" {
			t.Fatalf("read %q, want hello first", in[:5])
		}
	})
}

package tlsstream

import (
	"testing"

	"github.com/eventcore-go/eventcore"
)

// BenchmarkRecordRoundTrip: a 64-byte message from our client to our
// server and back, each way one record, on one loop: the hot path of
// reading and writing records. -benchmem shows what crypto/tls allocates
// per record on it.
func BenchmarkRecordRoundTrip(b *testing.B) {
	for _, ver := range versions {
		b.Run(ver.name, func(b *testing.B) { benchRoundTrip(b, ver.v) })
	}
}

func benchRoundTrip(b *testing.B, v uint16) {
	p := certs(b)
	d, err := eventcore.New()
	if err != nil {
		b.Fatal(err)
	}
	defer d.Dispose()
	l := New(d, Config{})
	var srv *Stream
	lst, addr := listenLoop(b, d, l, p.serverConfig(v), func(s *Stream, err error) {
		if err != nil {
			b.Error(err)
			return
		}
		srv = s
	})
	defer d.Sockets().ReleaseRef(lst)
	var cli *Stream
	ready := false
	cli = l.Dial(eventcore.MustParseAddr(addr), p.clientConfig(v), func(s *Stream, err error) {
		if err != nil {
			b.Error(err)
		}
		ready = true
	})
	runUntil(b, d, "both handshakes", func() bool { return ready && srv != nil })
	msg, sbuf, cbuf := make([]byte, 64), make([]byte, 64), make([]byte, 64)
	done := 0
	var onServerRead, onClientRead IOCallback
	onServerRead = func(s *Stream, st eventcore.IOStatus, n int) {
		if st != eventcore.IOStatusOK {
			return
		}
		s.Write(sbuf[:n], eventcore.IOModeImmediate, func(*Stream, eventcore.IOStatus, int) {})
		s.Read(sbuf, eventcore.IOModeAll, onServerRead)
	}
	onClientRead = func(s *Stream, st eventcore.IOStatus, n int) {
		done++
		if st != eventcore.IOStatusOK || done >= b.N {
			return
		}
		s.Write(msg, eventcore.IOModeImmediate, func(*Stream, eventcore.IOStatus, int) {})
		s.Read(cbuf, eventcore.IOModeAll, onClientRead)
	}
	srv.Read(sbuf, eventcore.IOModeAll, onServerRead)
	// Past the TLS 1.3 session tickets and the first records' sizes.
	cli.Write(msg, eventcore.IOModeAll, func(*Stream, eventcore.IOStatus, int) {})
	cli.Read(cbuf, eventcore.IOModeAll, func(s *Stream, st eventcore.IOStatus, n int) { done = -1 })
	runUntil(b, d, "the warm-up", func() bool { return done == -1 })
	done = 0
	b.ReportAllocs()
	b.ResetTimer()
	cli.Write(msg, eventcore.IOModeImmediate, func(*Stream, eventcore.IOStatus, int) {})
	cli.Read(cbuf, eventcore.IOModeAll, onClientRead)
	for done < b.N {
		d.Core().ProcessEvents(eventcore.Infinite)
	}
	b.StopTimer()
	cli.Close()
	srv.Close()
}

// The hot path allocates only what crypto/tls does: one 24-byte reader
// per call of its readFromUntil that needs the transport, which is two
// per record read (the record, then the "nothing more" that ends the
// read), so four per round trip. The stream itself allocates nothing.
func TestAllocsRecordRoundTrip(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts mean nothing under the race detector")
	}
	for _, ver := range versions {
		r := testing.Benchmark(func(b *testing.B) {
			benchRoundTrip(b, ver.v)
		})
		if a := r.AllocsPerOp(); a > 4 {
			t.Errorf("%s: %d allocations per round trip, want 4 (crypto/tls's)", ver.name, a)
		}
	}
}

package eventcore

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// Every order and combination of our shutdowns, and of our shutdowns with
// the end of the peer's stream, leads to the state the ConnectionState doc
// gives: reading ended (by the peer or by us) is ConnectionPassiveClose,
// writing ended ConnectionActiveClose, both ConnectionClosed.
func TestStreamShutdownStateCombinations(t *testing.T) {
	// Steps: "r", "w", "rw" shut down our reading, writing, both; "eof":
	// the peer shuts down writing and our read sees the end of its stream.
	cases := []struct {
		steps string
		want  []ConnectionState
	}{
		{"w r", []ConnectionState{ConnectionActiveClose, ConnectionClosed}},
		{"r w", []ConnectionState{ConnectionPassiveClose, ConnectionClosed}},
		{"rw", []ConnectionState{ConnectionClosed}},
		{"r r", []ConnectionState{ConnectionPassiveClose, ConnectionPassiveClose}},
		{"w w", []ConnectionState{ConnectionActiveClose, ConnectionActiveClose}},
		{"w rw", []ConnectionState{ConnectionActiveClose, ConnectionClosed}},
		{"r rw", []ConnectionState{ConnectionPassiveClose, ConnectionClosed}},
		{"eof w", []ConnectionState{ConnectionPassiveClose, ConnectionClosed}},
		{"eof r", []ConnectionState{ConnectionPassiveClose, ConnectionPassiveClose}},
		{"eof r w", []ConnectionState{ConnectionPassiveClose, ConnectionPassiveClose, ConnectionClosed}},
		{"eof rw", []ConnectionState{ConnectionPassiveClose, ConnectionClosed}},
		{"w eof", []ConnectionState{ConnectionActiveClose, ConnectionClosed}},
		{"w eof r", []ConnectionState{ConnectionActiveClose, ConnectionClosed, ConnectionClosed}},
	}
	forEachDriver(t, func(t *testing.T, d *Driver) {
		s := d.Sockets()
		for _, tc := range cases {
			c, srv := streamPair(t, d, MustParseAddr("127.0.0.1:0"))
			for i, step := range strings.Fields(tc.steps) {
				var err error
				switch step {
				case "r":
					err = s.Shutdown(c, true, false)
				case "w":
					err = s.Shutdown(c, false, true)
				case "rw":
					err = s.Shutdown(c, true, true)
				case "eof":
					if err = s.Shutdown(srv, false, true); err == nil {
						var r ioResult
						s.Read(c, make([]byte, 4), IOModeOnce, r.cb)
						runUntil(t, d, "end of the peer's stream", func() bool { return r.done })
						if r.status != IOStatusDisconnected {
							t.Errorf("%q: read at the peer's end: %+v", tc.steps, r)
						}
					}
				}
				if err != nil {
					t.Fatalf("%q, step %q: %v", tc.steps, step, err)
				}
				if st := s.ConnectionState(c); st != tc.want[i] {
					t.Errorf("%q, after step %q: %v, want %v", tc.steps, step, st, tc.want[i])
				}
			}
			s.ReleaseRef(c)
			s.ReleaseRef(srv)
		}
	})
}

// After shutting down reading, reads are refused at once (as writes are
// after shutting down writing), on every driver alike, also when a read
// loop starts one from the callback of the read the shutdown completed;
// writing goes on.
func TestStreamShutdownReadRefusesReads(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *Driver) {
		s := d.Sockets()
		c, srv := streamPair(t, d, MustParseAddr("127.0.0.1:0"))
		buf := make([]byte, 8)
		var got []IOStatus
		var loop IOCallback
		loop = func(sock StreamSocket, st IOStatus, n int) {
			got = append(got, st)
			if st != IOStatusDisconnected || len(got) < 2 {
				s.Read(sock, buf, IOModeOnce, loop)
			}
		}
		s.Read(c, buf, IOModeOnce, loop)
		if err := s.Shutdown(c, true, false); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, []IOStatus{IOStatusDisconnected, IOStatusDisconnected}) || !errors.Is(d.LastError(c), ErrClosed) {
			t.Fatalf("read loop at Shutdown: %v (%v)", got, d.LastError(c))
		}
		if n := d.Core().WaiterCount(); n != 0 {
			t.Fatalf("WaiterCount %d after Shutdown", n)
		}
		var wait ioResult
		s.WaitForData(c, wait.cb)
		if !wait.done || wait.status != IOStatusDisconnected {
			t.Fatalf("WaitForData after shutting down reading: %+v", wait)
		}
		// The other direction still flows.
		var w, r ioResult
		s.Write(c, []byte("still"), IOModeAll, w.cb)
		s.Read(srv, buf[:5], IOModeAll, r.cb)
		runUntil(t, d, "write after shutting down reading", func() bool { return w.done && r.done })
		if w.status != IOStatusOK || r.status != IOStatusOK || string(buf[:5]) != "still" {
			t.Fatalf("write %+v, peer's read %+v %q", w, r, buf[:r.n])
		}
		s.ReleaseRef(c)
		s.ReleaseRef(srv)
	})
}

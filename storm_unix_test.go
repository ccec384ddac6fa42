//go:build unix

package eventcore

import (
	"os"
	"syscall"
	"testing"
	"time"
)

// 10,000 signals while the loop is busy serving a connection: the loop
// keeps serving, every listener hears the signal (signals of one kind may
// coalesce), and a listener released during the storm is not called after
// its release.
func TestSignalStorm(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *Driver) {
		const signals = 10_000
		sigs := d.Signals()
		var heard [3]int
		var ids [3]SignalID
		released := false
		for i := range ids {
			id, err := sigs.Listen(syscall.SIGUSR2, func(SignalID, SignalStatus, os.Signal) {
				if i == 2 && released {
					t.Error("a released listener was called")
				}
				heard[i]++
			})
			if err != nil {
				t.Fatal(err)
			}
			ids[i] = id
		}
		// Busy work: a ping-pong on a connection, all the while.
		s := d.Sockets()
		c, srv := streamPair(t, d, MustParseAddr("127.0.0.1:0"))
		exchanges := 0
		pingBuf, pongBuf := make([]byte, 64), make([]byte, 64)
		var ping, pong IOCallback
		ping = func(sk StreamSocket, st IOStatus, _ int) {
			if st == IOStatusOK {
				exchanges++
				s.Read(c, pongBuf, IOModeAll, pong)
			}
		}
		pong = func(sk StreamSocket, st IOStatus, _ int) {
			if st == IOStatusOK {
				s.Write(c, pingBuf, IOModeAll, ping)
			}
		}
		echoBuf := make([]byte, 64)
		var echo IOCallback
		echo = func(sk StreamSocket, st IOStatus, _ int) {
			if st == IOStatusOK {
				s.Write(srv, echoBuf, IOModeAll, func(StreamSocket, IOStatus, int) { s.Read(srv, echoBuf, IOModeAll, echo) })
			}
		}
		s.Read(srv, echoBuf, IOModeAll, echo)
		s.Write(c, pingBuf, IOModeAll, ping)

		done := make(chan struct{})
		go func() {
			defer close(done)
			for i := range signals {
				syscall.Kill(os.Getpid(), syscall.SIGUSR2)
				if i%100 == 0 {
					time.Sleep(time.Millisecond) // let some be seen apart
				}
			}
		}()
		stormOver := false
		for !stormOver {
			select {
			case <-done:
				stormOver = true
			default:
			}
			d.Core().ProcessEvents(10 * time.Millisecond)
			if !released && heard[2] > 0 {
				sigs.ReleaseRef(ids[2])
				released = true
			}
		}
		// One more, after the storm: every live listener hears it.
		before := heard
		syscall.Kill(os.Getpid(), syscall.SIGUSR2)
		runUntil(t, d, "the last signal", func() bool { return heard[0] > before[0] && heard[1] > before[1] })
		if heard[0] == 0 || heard[1] == 0 || exchanges == 0 {
			t.Fatalf("heard %v, %d exchanges", heard, exchanges)
		}
		t.Logf("%d signals sent: listeners called %v times, %d exchanges meanwhile", signals+1, heard, exchanges)
		sigs.ReleaseRef(ids[0])
		sigs.ReleaseRef(ids[1])
		s.ReleaseRef(c)
		s.ReleaseRef(srv)
	})
}

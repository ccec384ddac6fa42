//go:build unix

package eventcore

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"
)

// A loop handed from goroutine to goroutine, as Driver's doc says (the
// taker's ProcessEvents first), at random points of a random workload:
// sockets adopted in bursts (some larger than io_uring's submission
// queue), data both ways (half the sockets read with ReadLoaned),
// releases. Every byte arrives once and in order,
// a released socket closes (its peer reads the end), and nothing is left
// at Dispose. On iouring each goroutine is locked to its own thread, and
// each handover moves the poller to a new ring, whatever state the queue
// is in.
func TestHandoverUnderLoad(t *testing.T) {
	for seed := range uint64(4) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) { handoverUnderLoad(t, seed) })
	}
}

func handoverUnderLoad(t *testing.T, seed uint64) {
	forEachDriver(t, func(t *testing.T, d *Driver) {
		rng := rand.New(rand.NewPCG(seed, 0))
		h := &handoverLoad{d: d}
		var workers [3]chan func()
		done := make(chan error)
		for i := range workers {
			workers[i] = make(chan func())
			go func(steps chan func()) {
				for step := range steps {
					step()
				}
			}(workers[i])
		}
		defer func() {
			for _, w := range workers {
				close(w)
			}
		}()
		for round := range 24 {
			var err error
			step := func() {
				d.Core().ProcessEvents(0) // take the loop over
				err = h.step(rng)
				done <- err
			}
			workers[rng.IntN(len(workers))] <- step
			if err = <-done; err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
		}
		d.Core().ProcessEvents(0)
		for len(h.socks) > 0 {
			if err := h.release(0); err != nil {
				t.Fatal(err)
			}
		}
	})
}

type handoverSock struct {
	sock   StreamSocket
	peer   int // the raw end, non-blocking
	buf    []byte
	got    []byte // what the loop read
	sent   []byte // what the peer sent
	wrote  bool   // the loop's write completed
	loaned bool   // reads are loaned (ReadLoaned)
}

type handoverLoad struct {
	d     *Driver
	socks []*handoverSock
}

// step makes one random move of the workload.
func (h *handoverLoad) step(rng *rand.Rand) error {
	switch n := rng.IntN(4); {
	case n == 0 || len(h.socks) < 8:
		return h.adopt(1 + rng.IntN(300))
	case n == 1:
		return h.toLoop(rng)
	case n == 2:
		return h.fromLoop(rng)
	default:
		for range 1 + rng.IntN(len(h.socks)/2) {
			if err := h.release(rng.IntN(len(h.socks))); err != nil {
				return err
			}
		}
		return nil
	}
}

func (h *handoverLoad) adopt(n int) error {
	s := h.d.Sockets()
	for range min(n, 400-len(h.socks)) {
		fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
		if err != nil {
			return err
		}
		syscall.SetNonblock(fds[1], true)
		sock, err := s.AdoptStream(uintptr(fds[0]))
		if err != nil {
			syscall.Close(fds[0])
			syscall.Close(fds[1])
			return fmt.Errorf("adopt: %v", err)
		}
		hs := &handoverSock{sock: sock, peer: fds[1], buf: make([]byte, 64), loaned: len(h.socks)%2 == 1}
		h.socks = append(h.socks, hs)
		h.read(hs)
	}
	return nil
}

// read keeps a read pending on hs, appending what it brings to hs.got:
// a loaned read on every other socket (on iouring, a receive of the ring),
// a read into hs.buf on the others.
func (h *handoverLoad) read(hs *handoverSock) {
	if hs.loaned {
		h.d.Sockets().ReadLoaned(hs.sock, func(_ StreamSocket, st IOStatus, data []byte) {
			hs.got = append(hs.got, data...)
			if st == IOStatusOK {
				h.read(hs)
			}
		})
		return
	}
	h.d.Sockets().Read(hs.sock, hs.buf, IOModeOnce, func(_ StreamSocket, st IOStatus, n int) {
		hs.got = append(hs.got, hs.buf[:n]...)
		if st == IOStatusOK {
			h.read(hs)
		}
	})
}

// toLoop has the peers of some sockets send, and the loop read it all.
func (h *handoverLoad) toLoop(rng *rand.Rand) error {
	var some []*handoverSock
	for _, hs := range h.socks {
		if rng.IntN(3) == 0 {
			msg := fmt.Appendf(nil, "%d:%x;", len(hs.sent), rng.Uint64())
			if _, err := syscall.Write(hs.peer, msg); err != nil {
				return fmt.Errorf("peer write: %v", err)
			}
			hs.sent = append(hs.sent, msg...)
			some = append(some, hs)
		}
	}
	return h.until("reads", func() bool {
		for _, hs := range some {
			if len(hs.got) < len(hs.sent) {
				return false
			}
		}
		return true
	}, func() error {
		for _, hs := range some {
			if !bytes.Equal(hs.got, hs.sent) {
				return fmt.Errorf("%v read %q, its peer sent %q", hs.sock, hs.got, hs.sent)
			}
		}
		return nil
	})
}

// fromLoop writes on some sockets, and has their peers read it all.
func (h *handoverLoad) fromLoop(rng *rand.Rand) error {
	type sent struct {
		hs  *handoverSock
		msg []byte
	}
	var some []sent
	s := h.d.Sockets()
	for _, hs := range h.socks {
		if rng.IntN(3) == 0 {
			w := sent{hs, bytes.Repeat([]byte{byte('a' + rng.IntN(26))}, 1+rng.IntN(3000))}
			hs.wrote = false
			s.Write(hs.sock, w.msg, IOModeAll, func(_ StreamSocket, st IOStatus, n int) {
				hs.wrote = st == IOStatusOK && n == len(w.msg)
			})
			some = append(some, w)
		}
	}
	err := h.until("writes", func() bool {
		for _, w := range some {
			if !w.hs.wrote {
				return false
			}
		}
		return true
	}, func() error { return nil })
	if err != nil {
		return err
	}
	buf := make([]byte, 4096)
	for _, w := range some {
		var got []byte
		for deadline := time.Now().Add(hangLimit); len(got) < len(w.msg); {
			n, err := syscall.Read(w.hs.peer, buf)
			switch {
			case n > 0:
				got = append(got, buf[:n]...)
			case err != syscall.EAGAIN || time.Now().After(deadline):
				return fmt.Errorf("peer of %v: read %d of %d bytes, then %d, %v", w.hs.sock, len(got), len(w.msg), n, err)
			default:
				time.Sleep(time.Millisecond)
			}
		}
		if !bytes.Equal(got, w.msg) {
			return fmt.Errorf("peer of %v read other bytes than written", w.hs.sock)
		}
	}
	return nil
}

// release releases socket i, and checks that its peer reads the end.
func (h *handoverLoad) release(i int) error {
	hs := h.socks[i]
	h.socks[i] = h.socks[len(h.socks)-1]
	h.socks = h.socks[:len(h.socks)-1]
	h.d.Sockets().ReleaseRef(hs.sock)
	defer syscall.Close(hs.peer)
	var b [1]byte
	for deadline := time.Now().Add(hangLimit); ; time.Sleep(time.Millisecond) {
		n, err := syscall.Read(hs.peer, b[:])
		if n == 0 && err == nil {
			return nil
		}
		if n > 0 || err != syscall.EAGAIN || time.Now().After(deadline) {
			return fmt.Errorf("peer of released %v: read %d, %v, not the end", hs.sock, n, err)
		}
	}
}

// until runs the loop until cond holds, then returns check's verdict.
func (h *handoverLoad) until(what string, cond func() bool, check func() error) error {
	for deadline := time.Now().Add(hangLimit); !cond(); {
		if time.Now().After(deadline) {
			return fmt.Errorf("gave up waiting for the %s", what)
		}
		h.d.Core().ProcessEvents(10 * time.Millisecond)
	}
	return check()
}

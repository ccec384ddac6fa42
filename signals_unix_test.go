//go:build unix

package eventcore

import (
	"errors"
	"os"
	"syscall"
	"testing"
)

func TestSignalDelivered(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *Driver) {
		sigs := d.Signals()
		var got1, got2 []os.Signal
		id1, err := sigs.Listen(syscall.SIGUSR1, func(_ SignalID, st SignalStatus, s os.Signal) {
			if st != SignalStatusOK {
				t.Errorf("status %v", st)
			}
			got1 = append(got1, s)
		})
		if err != nil {
			t.Fatal(err)
		}
		id2, _ := sigs.Listen(syscall.SIGUSR1, func(_ SignalID, _ SignalStatus, s os.Signal) { got2 = append(got2, s) })
		if d.Core().WaiterCount() != 2 {
			t.Fatalf("WaiterCount = %d, want 2", d.Core().WaiterCount())
		}
		syscall.Kill(os.Getpid(), syscall.SIGUSR1)
		runUntil(t, d, "SIGUSR1", func() bool { return len(got1) > 0 && len(got2) > 0 })
		if got1[0] != syscall.SIGUSR1 || got2[0] != syscall.SIGUSR1 {
			t.Fatalf("callbacks got %v and %v", got1, got2)
		}
		if sigs.ReleaseRef(id2) {
			t.Fatal("ReleaseRef of the last reference reported the listener alive")
		}
		n1 := len(got1)
		syscall.Kill(os.Getpid(), syscall.SIGUSR1)
		runUntil(t, d, "second SIGUSR1", func() bool { return len(got1) > n1 })
		if len(got2) != 1 {
			t.Fatal("released listener was called")
		}
		sigs.ReleaseRef(id1)
		if d.Core().WaiterCount() != 0 {
			t.Fatal("released listeners still counted")
		}
		sigState.Lock()
		_, subscribed := sigState.subs[syscall.SIGUSR1]
		sigState.Unlock()
		if subscribed {
			t.Fatal("signal still subscribed after its last listener was released")
		}
	})
}

func TestSignalUncatchable(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *Driver) {
		for _, s := range []os.Signal{syscall.SIGKILL, syscall.SIGSTOP, nil} {
			if _, err := d.Signals().Listen(s, func(SignalID, SignalStatus, os.Signal) {}); !errors.Is(err, ErrNotSupported) {
				t.Errorf("Listen(%v) error = %v", s, err)
			}
		}
	})
}

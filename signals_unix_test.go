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
		testSignalDelivery(t, d, syscall.SIGUSR1, func() string {
			syscall.Kill(os.Getpid(), syscall.SIGUSR1)
			return ""
		})
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

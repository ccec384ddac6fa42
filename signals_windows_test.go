package eventcore

import (
	"errors"
	"os"
	"syscall"
	"testing"

	"golang.org/x/sys/windows"
)

// Windows has no kill(2): the signals Go delivers come from console
// control events, and GenerateConsoleCtrlEvent raises one. Ctrl-Break
// (not Ctrl-C, which a process group may have disabled) arrives as
// os.Interrupt.
func sendCtrlBreak() error { return windows.GenerateConsoleCtrlEvent(windows.CTRL_BREAK_EVENT, 0) }

func TestSignalDelivered(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *Driver) {
		testSignalDelivery(t, d, os.Interrupt, func() string {
			if err := sendCtrlBreak(); err != nil {
				// Wine's console server refuses the event when the process
				// was not started in a console process group of its own, as
				// under go test -exec wine; on Windows the call works from a
				// console.
				return "Wine 8's GenerateConsoleCtrlEvent cannot address this process (" + err.Error() + "): no control event to deliver"
			}
			return ""
		})
	})
}

func TestSignalUncatchable(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *Driver) {
		for _, s := range []os.Signal{syscall.SIGKILL, syscall.SIGHUP, syscall.SIGQUIT, nil} {
			if _, err := d.Signals().Listen(s, func(SignalID, SignalStatus, os.Signal) {}); !errors.Is(err, ErrNotSupported) {
				t.Errorf("Listen(%v) on Windows: error = %v", s, err)
			}
		}
		id, err := d.Signals().Listen(syscall.SIGTERM, func(SignalID, SignalStatus, os.Signal) {})
		if err != nil {
			t.Fatalf("Listen(SIGTERM): %v", err)
		}
		d.Signals().ReleaseRef(id)
	})
}

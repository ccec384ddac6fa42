//go:build unix

package eventcore

import (
	"os"
	"syscall"
	"testing"
)

func TestPanicKeepsExitWaiters(t *testing.T) {
	forEachDriverAnd(t, processStandIns, testPanicKeepsExitWaiters)
}

// Through SIGCHLD the exit is found by the signal's delivery, which then
// calls the signal's listeners: a panic in an exit wait loses neither the
// other wait nor the listener.
func TestPanicKeepsExitWaitersSIGCHLD(t *testing.T) {
	forEachDriverAnd(t, processStandIns, func(t *testing.T, d *Driver) {
		d.l.noPidfd, d.l.noPollerExits = true, true
		heard := 0
		id, err := d.Signals().Listen(syscall.SIGCHLD, func(SignalID, SignalStatus, os.Signal) { heard++ })
		if err != nil {
			t.Fatal(err)
		}
		testPanicKeepsExitWaiters(t, d)
		runUntil(t, d, "the SIGCHLD listener", func() bool { return heard > 0 })
		d.Signals().ReleaseRef(id)
	})
}

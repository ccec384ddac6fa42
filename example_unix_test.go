//go:build unix

package eventcore_test

import (
	"fmt"
	"os"
	"syscall"

	"github.com/eventcore-go/eventcore"
)

// A signal listener; every listener of the process hears the signal.
func ExampleSignals() {
	d, _ := eventcore.New()
	defer d.Dispose()
	id, err := d.Signals().Listen(syscall.SIGUSR1, func(id eventcore.SignalID, st eventcore.SignalStatus, sig os.Signal) {
		fmt.Println("received", sig)
		d.Signals().ReleaseRef(id)
	})
	if err != nil {
		panic(err)
	}
	_ = id
	syscall.Kill(os.Getpid(), syscall.SIGUSR1)
	for d.Core().ProcessEvents(eventcore.Infinite) != eventcore.ExitOutOfWaiters {
	}
	// Output: received user defined signal 1
}

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

// A child process whose output is read through a pipe.
func ExampleProcesses() {
	d, _ := eventcore.New()
	defer d.Dispose()
	proc, err := d.Processes().Spawn([]string{"sh", "-c", "echo hello from $NAME; exit 3"},
		eventcore.RedirectNone, eventcore.RedirectPipe, eventcore.RedirectInherit,
		map[string]string{"NAME": "the child"}, 0, "")
	if err != nil {
		panic(err)
	}
	buf := make([]byte, 64)
	d.Pipes().Read(proc.Stdout, buf, eventcore.IOModeAll, func(p eventcore.Pipe, st eventcore.IOStatus, n int) {
		fmt.Printf("%q\n", buf[:n]) // IOModeAll: read until the end of the pipe
		d.Pipes().ReleaseRef(p)
	})
	d.Processes().Wait(proc.ID, func(id eventcore.ProcessID, code int) {
		fmt.Println("exit code", code)
		d.Processes().ReleaseRef(id)
	})
	for d.Core().ProcessEvents(eventcore.Infinite) != eventcore.ExitOutOfWaiters {
	}
	// Unordered output:
	// "hello from the child\n"
	// exit code 3
}

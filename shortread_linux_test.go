package eventcore

import (
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

// A read that reaches the urgent mark while a signal is pending for its
// thread gets EAGAIN from Linux, with the data behind the mark still
// queued; the Go runtime sends its threads SIGURG to preempt goroutines,
// so this happens to any loop, now and then. Here another goroutine
// signals the loop's thread without pause, so that most reads meet it;
// every other round reads loaned (on io_uring, through its receive).
func TestPeerSendsUrgentDataUnderSignals(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *Driver) {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		pid, tid := unix.Getpid(), unix.Gettid()
		stop, done := make(chan struct{}), make(chan struct{})
		go func() {
			defer close(done)
			for {
				select {
				case <-stop:
					return
				default:
					unix.Tgkill(pid, tid, unix.SIGURG)
				}
			}
		}()
		defer func() { close(stop); <-done }()
		for i := range 20 {
			urgentRound(t, d, i%2 == 1)
		}
	})
}

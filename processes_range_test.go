package eventcore

import (
	"os"
	"strconv"
	"testing"
)

// TestProcessAdoptPIDOutOfRange: a process ID beyond what the system's
// process IDs can hold is no process; it must not be cut to 32 bits, which
// would adopt (and let Kill reach) another process: here our own.
func TestProcessAdoptPIDOutOfRange(t *testing.T) {
	if strconv.IntSize < 64 {
		t.Skip("int has 32 bits: every pid fits")
	}
	pid := os.Getpid() + 1<<(strconv.IntSize-32)
	forEachDriver(t, func(t *testing.T, d *Driver) {
		if id, err := d.Processes().Adopt(pid); err == nil {
			d.Processes().ReleaseRef(id)
			t.Fatalf("Adopt(%d) succeeded: cut to 32 bits it is our own pid, %d", pid, os.Getpid())
		}
	})
}

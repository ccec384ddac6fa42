//go:build unix

package group

import (
	"syscall"
	"testing"
)

// raiseFDLimit raises the soft limit on descriptors to the hard one, and
// returns the limit now in force.
func raiseFDLimit(t *testing.T) int {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		t.Fatal(err)
	}
	if r.Cur < r.Max {
		r.Cur = r.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
			t.Logf("raising the descriptor limit: %v", err)
			syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r)
		}
	}
	return int(min(r.Cur, 1<<20))
}

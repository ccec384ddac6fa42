package group

import "testing"

// raiseFDLimit: Windows has no per-process limit on sockets below what
// the tests need.
func raiseFDLimit(*testing.T) int { return 1 << 20 }

package eventcore

import (
	"os"
	"syscall"
)

// sigCatchable tells the signals Go's runtime delivers on Windows: Ctrl-C
// and Ctrl-Break arrive as os.Interrupt (SIGINT), closing the console,
// logging off and shutting down as SIGTERM. No other signal ever arrives.
func sigCatchable(sig os.Signal) bool { return sig == os.Interrupt || sig == syscall.SIGTERM }

package eventcore

// Windows receives nothing of its own beyond the zero-byte receive that
// tells a socket readable (sockets_windows.go): loaned reads read after
// it, and no received data waits in the loop (fdio_ringrecv.go is the
// other side).

func (l *loop) ringLoan(handle, *entry[fdObj], *ioOp) bool { return false }
func (l *loop) releaseRingLoan(uint32, bool)               {}
func (l *loop) recvQuiet(*entry[fdObj]) bool               { return true }
func (l *loop) recvDrop(*entry[fdObj])                     {}

//go:build darwin || dragonfly || netbsd

package eventcore

// setIPTransparent: these systems have no option to bind a socket to an
// address that is not local.
func setIPTransparent(int, bool) error { return ErrNotSupported }

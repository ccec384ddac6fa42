//go:build linux || windows

package eventcore

// The systems whose watchers can overflow: inotify's queue, the buffer of
// ReadDirectoryChangesW.

// sawOverflow reports whether log holds an overflow.
func (c *changeLog) sawOverflow() bool {
	for _, ch := range c.changes {
		if ch.Kind == FileChangeOverflow {
			return true
		}
	}
	return false
}

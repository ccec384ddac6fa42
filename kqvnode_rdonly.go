//go:build dragonfly || freebsd || netbsd || openbsd

package eventcore

import "golang.org/x/sys/unix"

// kqVnodeOpen opens a file or directory for EVFILT_VNODE: these systems
// have no notification-only mode (darwin's O_EVTONLY), so it is opened for
// reading, which an unreadable file refuses.
const kqVnodeOpen = unix.O_RDONLY

//go:build darwin

package eventcore

import "golang.org/x/sys/unix"

// kqVnodeOpen opens a file or directory for EVFILT_VNODE only: O_EVTONLY
// needs no read permission and does not keep its volume from being
// unmounted.
const kqVnodeOpen = unix.O_EVTONLY

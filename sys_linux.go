package eventcore

import (
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Linux's part of the socket-address codec (sys_unix.go) and its
// system calls that differ from the BSDs'.

// abstractUnixPaths: a Unix-domain path starting with '@' names a socket in
// the abstract namespace, as x/sys writes it.
const abstractUnixPaths = true

// setSockaddrLen: Linux's sockaddr carries no length.
func setSockaddrLen(*unix.RawSockaddrAny, uint32) {}

// pollReadable reports whether a read on fd would not block (data, the end
// of the stream, or an error to collect), without reading: ppoll with a
// zero timeout, which every Linux architecture has, made raw like the
// calls of sys_direct.go since it cannot block.
func pollReadable(fd int32) (bool, error) {
	ready, err := pollNow(fd, unix.POLLIN)
	return ready != 0, err
}

// pollNow returns what a ppoll(2) of fd for events finds now, without
// waiting: those of events that hold, and POLLERR, POLLHUP or POLLNVAL,
// which it reports unasked.
func pollNow(fd int32, events int16) (int16, error) {
	pfd := unix.PollFd{Fd: fd, Events: events}
	var ts unix.Timespec
	for {
		_, _, errno := unix.RawSyscall6(unix.SYS_PPOLL, uintptr(unsafe.Pointer(&pfd)), 1, uintptr(unsafe.Pointer(&ts)), 0, 0, 0)
		switch errno {
		case 0:
			return pfd.Revents, nil
		case unix.EINTR:
			continue
		}
		return 0, errno
	}
}

// pollHold is poll(2) made without telling the scheduler, which keeps the
// thread's P while it blocks (see "Holding" in loop_posix.go).
func pollHold(fds []unix.PollFd, timeout time.Duration) (int, error) {
	ts := unix.NsecToTimespec(int64(timeout))
	r, _, errno := unix.RawSyscall6(unix.SYS_PPOLL, uintptr(unsafe.Pointer(&fds[0])), uintptr(len(fds)), uintptr(unsafe.Pointer(&ts)), 0, 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(r), nil
}

const pollCanHold = true

// sysDisconnect dissolves a datagram socket's association.
func sysDisconnect(fd int) error {
	var sa unix.RawSockaddr
	sa.Family = unix.AF_UNSPEC
	_, _, errno := unix.Syscall(unix.SYS_CONNECT, uintptr(fd), uintptr(unsafe.Pointer(&sa)), unsafe.Sizeof(sa))
	if errno != 0 {
		return errno
	}
	return nil
}

// urgentByteAtMark reports whether TCP socket fd is at its urgent mark
// with the urgent byte there (POLLPRI): a read would step over it to what
// follows, so one that said EAGAIN there was turned back by a pending
// signal (see sysRead). (Before the byte comes, the mark is known and a
// read rightly finds nothing.)
func urgentByteAtMark(fd sysFD) bool {
	at, err := unix.IoctlGetInt(int(fd), unix.SIOCATMARK)
	if err != nil || at == 0 {
		return false
	}
	ready, err := pollNow(int32(fd), unix.POLLPRI)
	return err == nil && ready&unix.POLLPRI != 0
}

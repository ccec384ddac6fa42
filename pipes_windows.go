package eventcore

import (
	"fmt"
	"os"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/windows"
)

// Pipes on the winapi driver: named-pipe handles opened for overlapped
// I/O, on the same machinery as sockets (fdio.go). Waiting for data is a
// zero-byte ReadFileEx, which completes when data (or the end of the pipe)
// is there without taking any; a read then takes what PeekNamedPipe says
// is there, so it never blocks. A pipe has no non-blocking write: writes go
// to WriteFileEx at once, and an IOModeImmediate write behaves as
// IOModeOnce. Anonymous pipes (CreatePipe) cannot do overlapped I/O, so
// Adopt refuses them; Processes.Spawn makes named pipes for RedirectPipe.

var (
	procPeekNamedPipe       = modkernel32.NewProc("PeekNamedPipe")
	procCreateNamedPipe     = modkernel32.NewProc("CreateNamedPipeW")
	procGetOverlappedResult = modkernel32.NewProc("GetOverlappedResult")
)

const (
	fileModeInformation  = 16
	fileSynchronousIO    = 0x10 | 0x20 // FILE_SYNCHRONOUS_IO_ALERT | _NONALERT
	pipeAccessInbound    = 0x1
	pipeAccessOutbound   = 0x2
	fileFlagFirstPipe    = 0x00080000
	pipeRejectRemote     = 0x8
	pipeBufferSize       = 64 << 10
	errorPipeConnected   = windows.ERROR_PIPE_CONNECTED
	errorMoreData        = windows.ERROR_MORE_DATA
	errorBrokenPipe      = windows.ERROR_BROKEN_PIPE
	errorPipeNotConnectd = windows.ERROR_PIPE_NOT_CONNECTED
)

// fileEx starts ReadFileEx (p nil: a zero-byte read) or WriteFileEx with
// the driver's completion routine.
func fileEx(proc *windows.LazyProc, h windows.Handle, p []byte, ov *windows.Overlapped) error {
	r, _, e := syscall.SyscallN(proc.Addr(), uintptr(h), uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(len(p)),
		uintptr(unsafe.Pointer(ov)), completionRoutine)
	if r == 0 {
		return errnoErr(e)
	}
	return nil
}

// pipeAvailable returns how many bytes can be read from pipe h at once.
func pipeAvailable(h windows.Handle) (uint32, error) {
	var avail uint32
	r, _, e := syscall.SyscallN(procPeekNamedPipe.Addr(), uintptr(h), 0, 0, 0, uintptr(unsafe.Pointer(&avail)), 0)
	if r == 0 {
		return 0, errnoErr(e)
	}
	return avail, nil
}

// pipeRead reads what is in the pipe now: errWouldBlock if nothing, 0 at
// the end of the pipe (all writers closed).
func (l *loop) pipeRead(e *entry[fdObj], p []byte) (int, error) {
	avail, err := pipeAvailable(e.v.fd)
	switch {
	case err == errorBrokenPipe:
		return 0, nil
	case err != nil:
		return 0, err
	case avail == 0:
		return 0, errWouldBlock
	}
	p = p[:min(uint32(len(p)), avail)]
	// The data is there, so the read completes at once; the OVERLAPPED an
	// overlapped handle requires is the loop's, with its own event.
	ov := &l.pipeOv
	*ov = windows.Overlapped{HEvent: l.pipeEvent}
	var n uint32
	err = windows.ReadFile(e.v.fd, p, &n, ov)
	if err == windows.ERROR_IO_PENDING {
		r, _, e := syscall.SyscallN(procGetOverlappedResult.Addr(), uintptr(e.v.fd), uintptr(unsafe.Pointer(ov)),
			uintptr(unsafe.Pointer(&n)), 1)
		err = nil
		if r == 0 {
			err = errnoErr(e)
		}
	}
	switch err {
	case nil, errorMoreData:
		return int(n), nil
	case errorBrokenPipe:
		return 0, nil
	}
	return 0, err
}

func (l *loop) pipeAdopt(fd uintptr) (handle, error) {
	if l.disposed {
		return 0, ErrDisposed
	}
	h := windows.Handle(fd)
	if _, ok := l.bySock[h]; ok {
		return 0, ErrAlreadyRegistered
	}
	t, err := windows.GetFileType(h)
	if err != nil {
		return 0, err
	}
	if t != windows.FILE_TYPE_PIPE {
		return 0, fmt.Errorf("%w: only pipes can be adopted as Pipes on Windows", ErrNotSupported)
	}
	var mode uint32
	var iosb windows.IO_STATUS_BLOCK
	r, _, _ := syscall.SyscallN(procNtQueryInfoFile.Addr(), uintptr(h), uintptr(unsafe.Pointer(&iosb)),
		uintptr(unsafe.Pointer(&mode)), 4, fileModeInformation)
	if r != 0 {
		return 0, windows.NTStatus(r).Errno()
	}
	if mode&fileSynchronousIO != 0 {
		return 0, fmt.Errorf("%w: the pipe handle was not opened for overlapped I/O (an anonymous pipe?)", ErrNotSupported)
	}
	windows.SetHandleInformation(h, windows.HANDLE_FLAG_INHERIT, 0)
	return l.newPipe(h)
}

func (l *loop) newPipe(h windows.Handle) (handle, error) {
	ph, e, err := l.newFD(kindPipe, h, 0)
	if err != nil {
		return 0, err
	}
	e.v.sys.pipe = true
	e.v.state = ConnectionConnected
	return ph, nil
}

var pipeSeq atomic.Uint64

// newPipePair makes a named pipe for a child's standard stream: the
// driver's end, overlapped, and the child's, synchronous and inheritable.
// childReads tells the direction.
func newPipePair(childReads bool) (parent, child windows.Handle, err error) {
	name, _ := windows.UTF16PtrFromString(fmt.Sprintf(`\\.\pipe\eventcore-%d-%d`, os.Getpid(), pipeSeq.Add(1)))
	access, childAccess := uint32(pipeAccessInbound), uint32(windows.GENERIC_WRITE)
	if childReads {
		access, childAccess = pipeAccessOutbound, windows.GENERIC_READ
	}
	r, _, e := syscall.SyscallN(procCreateNamedPipe.Addr(), uintptr(unsafe.Pointer(name)),
		uintptr(access|windows.FILE_FLAG_OVERLAPPED|fileFlagFirstPipe),
		windows.PIPE_TYPE_BYTE|windows.PIPE_READMODE_BYTE|windows.PIPE_WAIT|pipeRejectRemote,
		1, pipeBufferSize, pipeBufferSize, 0, 0)
	parent = windows.Handle(r)
	if parent == windows.InvalidHandle {
		return parent, parent, errnoErr(e)
	}
	sa := windows.SecurityAttributes{InheritHandle: 1}
	sa.Length = uint32(unsafe.Sizeof(sa))
	// FILE_WRITE_ATTRIBUTES lets the child change the pipe's mode, as
	// some runtimes do on their standard streams.
	child, err = windows.CreateFile(name, childAccess|windows.FILE_WRITE_ATTRIBUTES, 0, &sa, windows.OPEN_EXISTING, 0, 0)
	if err != nil {
		windows.CloseHandle(parent)
		return windows.InvalidHandle, windows.InvalidHandle, err
	}
	return parent, child, nil
}

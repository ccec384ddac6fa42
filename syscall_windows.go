package eventcore

import (
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/windows"
)

// Raw Winsock, kernel32 and user32 calls. x/sys/windows has most of them,
// but its wrappers take Sockaddr interfaces (one allocation per call) or
// a *byte where a completion routine's address goes; these take the
// codec's rawSockaddr (sockaddr_codec_windows.go) and uintptrs, so the
// per-operation paths allocate nothing.

var (
	modws2    = windows.NewLazySystemDLL("ws2_32.dll")
	moduser32 = windows.NewLazySystemDLL("user32.dll")

	procWSARecv         = modws2.NewProc("WSARecv")
	procWSASend         = modws2.NewProc("WSASend")
	procWSASendTo       = modws2.NewProc("WSASendTo")
	procRecv            = modws2.NewProc("recv")
	procSend            = modws2.NewProc("send")
	procRecvfrom        = modws2.NewProc("recvfrom")
	procSendto          = modws2.NewProc("sendto")
	procAccept          = modws2.NewProc("accept")
	procBind            = modws2.NewProc("bind")
	procConnect         = modws2.NewProc("connect")
	procGetsockname     = modws2.NewProc("getsockname")
	procGetpeername     = modws2.NewProc("getpeername")
	procIoctlsocket     = modws2.NewProc("ioctlsocket")
	modkernel32         = windows.NewLazySystemDLL("kernel32.dll")
	procReadFileEx      = modkernel32.NewProc("ReadFileEx")
	procWriteFileEx     = modkernel32.NewProc("WriteFileEx")
	procGetFileSizeEx   = modkernel32.NewProc("GetFileSizeEx")
	procReOpenFile      = modkernel32.NewProc("ReOpenFile")
	procNtQueryInfoFile = windows.NewLazySystemDLL("ntdll.dll").NewProc("NtQueryInformationFile")
	procMsgWait         = moduser32.NewProc("MsgWaitForMultipleObjectsEx")
	procPeekMessage     = moduser32.NewProc("PeekMessageW")
	procTranslateMsg    = moduser32.NewProc("TranslateMessage")
	procDispatchMessage = moduser32.NewProc("DispatchMessageW")
)

// Constants x/sys/windows does not have.
const (
	soType             = 0x1008 // SO_TYPE
	fionbio            = 0x8004667e
	statusPending      = 0x103 // STATUS_PENDING, in OVERLAPPED.Internal while in flight
	qsAllInput         = 0x04ff
	mwmoAlertable      = 0x2
	mwmoInputAvailable = 0x4
	pmRemove           = 0x1
	wmQuit             = 0x12
	sdReceive          = 0
	sdSend             = 1
	sdBoth             = 2
)

// socketError turns the result of a Winsock call returning SOCKET_ERROR
// into its error.
func socketError(r uintptr, e syscall.Errno) error {
	if int32(r) != -1 {
		return nil
	}
	return errnoErr(e)
}

var errIOPending error = windows.ERROR_IO_PENDING

// errnoErr boxes e as an error without allocating for the codes of the
// steady-state paths: a syscall.Errno above 255 in an interface would
// be allocated each time.
func errnoErr(e syscall.Errno) error {
	switch e {
	case 0:
		return syscall.EINVAL
	case windows.WSAEWOULDBLOCK:
		return errWouldBlock
	case windows.ERROR_IO_PENDING:
		return errIOPending
	}
	return e
}

// sysRecv is a non-blocking recv: (0, WSAEWOULDBLOCK) when nothing is there.
func sysRecv(s windows.Handle, p []byte, flags uint32) (int, error) {
	r, _, e := syscall.SyscallN(procRecv.Addr(), uintptr(s), uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(len(p)), uintptr(flags))
	if err := socketError(r, e); err != nil {
		return 0, err
	}
	return int(int32(r)), nil
}

func sysSend(s windows.Handle, p []byte) (int, error) {
	r, _, e := syscall.SyscallN(procSend.Addr(), uintptr(s), uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(len(p)), 0)
	if err := socketError(r, e); err != nil {
		return 0, err
	}
	return int(int32(r)), nil
}

// sysRecvFrom receives one datagram into p, its sender's address into rsa;
// trunc reports a datagram longer than p (WSAEMSGSIZE), of which p holds
// the first len(p) bytes (the rest is dropped).
func sysRecvFrom(s windows.Handle, p []byte, rsa *rawSockaddr) (n int, salen int32, trunc bool, err error) {
	salen = sizeofRawSockaddr
	rsa.clearFamily()
	r, _, e := syscall.SyscallN(procRecvfrom.Addr(), uintptr(s), uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(len(p)), 0,
		uintptr(rsa.ptr()), uintptr(unsafe.Pointer(&salen)))
	if err := socketError(r, e); err == windows.WSAEMSGSIZE {
		return len(p), salen, true, nil
	} else if err != nil {
		return 0, salen, false, err
	}
	return int(int32(r)), salen, false, nil
}

// sysSendTo sends p to the address to, encoded into the scratch rsa.
func sysSendTo(s windows.Handle, p []byte, to Addr, rsa *rawSockaddr) (int, error) {
	salen, err := encodeSockaddr(to, rsa)
	if err != nil {
		return 0, err
	}
	return sendTo(s, p, rsa, salen)
}

func sendTo(s windows.Handle, p []byte, rsa *rawSockaddr, salen int32) (int, error) {
	r, _, e := syscall.SyscallN(procSendto.Addr(), uintptr(s), uintptr(unsafe.Pointer(unsafe.SliceData(p))), uintptr(len(p)), 0,
		uintptr(rsa.ptr()), uintptr(salen))
	if err := socketError(r, e); err != nil {
		return 0, err
	}
	return int(int32(r)), nil
}

func sysAccept(s windows.Handle, rsa *rawSockaddr) (windows.Handle, int32, error) {
	salen := sizeofRawSockaddr
	r, _, e := syscall.SyscallN(procAccept.Addr(), uintptr(s), uintptr(rsa.ptr()), uintptr(unsafe.Pointer(&salen)))
	if windows.Handle(r) == windows.InvalidHandle {
		return windows.InvalidHandle, 0, errnoErr(e)
	}
	return windows.Handle(r), salen, nil
}

func sysBind(s windows.Handle, rsa *rawSockaddr, salen int32) error {
	r, _, e := syscall.SyscallN(procBind.Addr(), uintptr(s), uintptr(rsa.ptr()), uintptr(salen))
	return socketError(r, e)
}

func sysConnect(s windows.Handle, rsa *rawSockaddr, salen int32) error {
	r, _, e := syscall.SyscallN(procConnect.Addr(), uintptr(s), uintptr(rsa.ptr()), uintptr(salen))
	return socketError(r, e)
}

func sysSockname(s windows.Handle, rsa *rawSockaddr, peer bool) (int32, error) {
	proc := procGetsockname
	if peer {
		proc = procGetpeername
	}
	salen := sizeofRawSockaddr
	r, _, e := syscall.SyscallN(proc.Addr(), uintptr(s), uintptr(rsa.ptr()), uintptr(unsafe.Pointer(&salen)))
	return salen, socketError(r, e)
}

func sysSetNonblock(s windows.Handle) error {
	one := uint32(1)
	r, _, e := syscall.SyscallN(procIoctlsocket.Addr(), uintptr(s), fionbio, uintptr(unsafe.Pointer(&one)))
	return socketError(r, e)
}

// wsaRecv starts an overlapped receive whose completion routine is
// routine; *flags must stay valid until it completes.
func wsaRecv(s windows.Handle, buf *windows.WSABuf, flags *uint32, ov *windows.Overlapped, routine uintptr) error {
	r, _, e := syscall.SyscallN(procWSARecv.Addr(), uintptr(s), uintptr(unsafe.Pointer(buf)), 1, 0,
		uintptr(unsafe.Pointer(flags)), uintptr(unsafe.Pointer(ov)), routine)
	return socketError(r, e)
}

func wsaSend(s windows.Handle, buf *windows.WSABuf, ov *windows.Overlapped, routine uintptr) error {
	r, _, e := syscall.SyscallN(procWSASend.Addr(), uintptr(s), uintptr(unsafe.Pointer(buf)), 1, 0, 0,
		uintptr(unsafe.Pointer(ov)), routine)
	return socketError(r, e)
}

// wsaSendTo starts an overlapped send to *to, which must stay valid until
// it completes.
func wsaSendTo(s windows.Handle, buf *windows.WSABuf, to *rawSockaddr, tolen int32, ov *windows.Overlapped, routine uintptr) error {
	r, _, e := syscall.SyscallN(procWSASendTo.Addr(), uintptr(s), uintptr(unsafe.Pointer(buf)), 1, 0, 0,
		uintptr(to.ptr()), uintptr(tolen), uintptr(unsafe.Pointer(ov)), routine)
	return socketError(r, e)
}

// connectEx is Winsock's ConnectEx extension, loaded once.
var connectExProc struct {
	once sync.Once
	addr uintptr
	err  error
}

func sysConnectEx(s windows.Handle, rsa *rawSockaddr, salen int32, ov *windows.Overlapped) error {
	connectExProc.once.Do(func() {
		var n uint32
		connectExProc.err = windows.WSAIoctl(s, windows.SIO_GET_EXTENSION_FUNCTION_POINTER,
			(*byte)(unsafe.Pointer(&windows.WSAID_CONNECTEX)), uint32(unsafe.Sizeof(windows.WSAID_CONNECTEX)),
			(*byte)(unsafe.Pointer(&connectExProc.addr)), uint32(unsafe.Sizeof(connectExProc.addr)), &n, nil, 0)
	})
	if connectExProc.err != nil {
		return connectExProc.err
	}
	r, _, e := syscall.SyscallN(connectExProc.addr, uintptr(s), uintptr(rsa.ptr()), uintptr(salen), 0, 0, 0, uintptr(unsafe.Pointer(ov)))
	if r == 0 {
		return errnoErr(e)
	}
	return nil
}

// msg is user32's MSG.
type msg struct {
	hwnd    uintptr
	message uint32
	wParam  uintptr
	lParam  uintptr
	time    uint32
	pt      [2]int32
	private uint32
}

// msgWait is MsgWaitForMultipleObjectsEx: it returns when one of handles
// is signalled (its index), when input arrives for the thread
// (len(handles)), when completion routines ran (WAIT_IO_COMPLETION), or
// after ms milliseconds (WAIT_TIMEOUT).
func msgWait(handles []windows.Handle, ms uint32) (uint32, error) {
	r, _, e := syscall.SyscallN(procMsgWait.Addr(), uintptr(len(handles)), uintptr(unsafe.Pointer(unsafe.SliceData(handles))),
		uintptr(ms), qsAllInput, mwmoAlertable|mwmoInputAvailable)
	if uint32(r) == windows.WAIT_FAILED {
		return uint32(r), e
	}
	return uint32(r), nil
}

func peekMessage(m *msg) bool {
	r, _, _ := syscall.SyscallN(procPeekMessage.Addr(), uintptr(unsafe.Pointer(m)), 0, 0, 0, pmRemove)
	return r != 0
}

func dispatchMessage(m *msg) {
	syscall.SyscallN(procTranslateMsg.Addr(), uintptr(unsafe.Pointer(m)))
	syscall.SyscallN(procDispatchMessage.Addr(), uintptr(unsafe.Pointer(m)))
}

func reOpenFile(h windows.Handle, access, share, flags uint32) (windows.Handle, error) {
	r, _, e := syscall.SyscallN(procReOpenFile.Addr(), uintptr(h), uintptr(access), uintptr(share), uintptr(flags))
	if windows.Handle(r) == windows.InvalidHandle {
		return windows.InvalidHandle, errnoErr(e)
	}
	return windows.Handle(r), nil
}

// fileAccess returns the access rights h was opened with
// (NtQueryInformationFile, FileAccessInformation).
func fileAccess(h windows.Handle) (uint32, error) {
	var access uint32
	var iosb windows.IO_STATUS_BLOCK
	const fileAccessInformation = 8
	r, _, _ := syscall.SyscallN(procNtQueryInfoFile.Addr(), uintptr(h), uintptr(unsafe.Pointer(&iosb)),
		uintptr(unsafe.Pointer(&access)), 4, fileAccessInformation)
	if r != 0 {
		return 0, windows.NTStatus(r).Errno()
	}
	return access, nil
}

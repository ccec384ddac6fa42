package eventcore

import "errors"

// Errors returned by synchronous calls and by [Driver.LastError]. Errors
// that come from the operating system are returned as they are
// (syscall.Errno, wrapped in *os.SyscallError where the call is not obvious),
// so errors.Is(err, syscall.ECONNREFUSED) and friends work.
var (
	// ErrInvalidHandle: the handle is zero, released, of another kind or
	// another driver.
	ErrInvalidHandle = errors.New("eventcore: invalid handle")
	// ErrDisposed: the driver has been disposed.
	ErrDisposed = errors.New("eventcore: driver disposed")
	// ErrBusy: an operation of the same kind is already pending.
	ErrBusy = errors.New("eventcore: operation already pending")
	// ErrClosed: the socket is shut down in the direction of the operation.
	ErrClosed = errors.New("eventcore: connection closed")
	// ErrAlreadyRegistered: an adopted descriptor is already owned by the
	// driver.
	ErrAlreadyRegistered = errors.New("eventcore: descriptor already registered")
	// ErrNotSupported: the operation or option does not exist on this
	// platform or for this kind of socket.
	ErrNotSupported = errors.New("eventcore: not supported")
	// ErrInvalidAddress: the address is missing, of the wrong family, or
	// not a valid Unix-domain path (empty, too long, or holding a NUL byte).
	ErrInvalidAddress = errors.New("eventcore: invalid address")
	// ErrUnknownDriver: no driver of that name exists on this platform.
	ErrUnknownDriver = errors.New("eventcore: unknown driver")
	// ErrTooManyHandles: the driver's handle table is full (16,777,214
	// live handles; sockets and pipes share one table).
	ErrTooManyHandles = errors.New("eventcore: too many handles")
	// ErrOutOfRange: a value given to a setter lies outside the range the
	// system takes; the error wrapping it names the range and the value,
	// and nothing was changed (a value is refused, never cut to fit).
	ErrOutOfRange = errors.New("eventcore: value out of range")
)

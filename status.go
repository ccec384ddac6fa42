package eventcore

import "strconv"

// ExitReason tells why [Core.ProcessEvents] returned.
type ExitReason uint8

const (
	// ExitTimeout: the timeout elapsed and nothing happened.
	ExitTimeout ExitReason = iota
	// ExitIdle: events were processed.
	ExitIdle
	// ExitOutOfWaiters: nothing is left that could ever produce an event
	// (see [Core.WaiterCount]).
	ExitOutOfWaiters
	// ExitExited: [Core.Exit] was called.
	ExitExited
)

// IOMode says how much of a buffer an I/O operation transfers before its
// callback runs.
type IOMode uint8

const (
	// IOModeImmediate transfers only what is possible without waiting; with
	// nothing possible the operation completes with IOStatusWouldBlock. On
	// sockets and pipes it always completes before the call that started it
	// returns (but for a write to a pipe on Windows, which behaves as
	// IOModeOnce); file operations take it as IOModeOnce.
	IOModeImmediate IOMode = iota
	// IOModeOnce waits until at least one byte (one datagram) can be
	// transferred, then transfers what one system call does.
	IOModeOnce
	// IOModeAll transfers the whole buffer, or completes early with the
	// bytes transferred so far and IOStatusDisconnected or IOStatusError.
	IOModeAll
)

// IOStatus is the result of an I/O operation.
type IOStatus uint8

const (
	// IOStatusOK: the data was transferred.
	IOStatusOK IOStatus = iota
	// IOStatusDisconnected: the connection was closed (by the peer, a reset,
	// or our own shutdown) before all data could be transferred.
	IOStatusDisconnected
	// IOStatusError: the transfer failed; LastError says why.
	IOStatusError
	// IOStatusWouldBlock: IOModeImmediate found nothing to transfer.
	IOStatusWouldBlock
	// IOStatusInvalidHandle: the handle is zero, released, of another
	// driver, or the driver has been disposed.
	IOStatusInvalidHandle
	// IOStatusBusy: an operation of the same direction is already pending
	// on the handle; the pending one is not affected.
	IOStatusBusy
	// IOStatusReadPastEOF: a file read reached the end of the file before
	// filling the buffer (n tells how far it got).
	IOStatusReadPastEOF
	// IOStatusNoSpaceLeft: a write failed for lack of space or quota.
	IOStatusNoSpaceLeft
	// IOStatusNotAllowed: the handle does not permit the operation (a write
	// to a file opened for reading, an operation after Close).
	IOStatusNotAllowed
	// IOStatusTruncated: a received datagram was larger than the buffer:
	// the buffer holds its first n bytes (n = len(buf)), the rest was
	// discarded.
	IOStatusTruncated
)

// ConnectStatus is the result of [Sockets.ConnectStream].
type ConnectStatus uint8

const (
	// ConnectStatusConnected: the connection is established.
	ConnectStatusConnected ConnectStatus = iota
	// ConnectStatusRefused: the peer refused the connection.
	ConnectStatusRefused
	// ConnectStatusTimeout: the connection attempt timed out in the kernel.
	ConnectStatusTimeout
	// ConnectStatusBindFailure: the bind address could not be bound.
	ConnectStatusBindFailure
	// ConnectStatusSocketCreateFailure: no socket could be created
	// (descriptor exhaustion, unsupported family).
	ConnectStatusSocketCreateFailure
	// ConnectStatusUnreachable: no route to the peer's network or host.
	ConnectStatusUnreachable
	// ConnectStatusUnknownError: any other failure; LastError says why.
	ConnectStatusUnknownError
)

// ConnectionState is the state of a stream socket, see
// [Sockets.ConnectionState].
type ConnectionState uint8

const (
	// ConnectionInitialized: created, not yet connecting.
	ConnectionInitialized ConnectionState = iota
	// ConnectionConnecting: a connect is in progress.
	ConnectionConnecting
	// ConnectionConnected: data flows both ways.
	ConnectionConnected
	// ConnectionPassiveClose: no more data comes in, since the peer closed
	// its sending side (a read saw the end of its stream) or we shut down
	// reading; we may still write.
	ConnectionPassiveClose
	// ConnectionActiveClose: we shut down our sending side; we may still
	// read.
	ConnectionActiveClose
	// ConnectionClosed: no data flows either way: both sides above (in
	// either order), a reset or a failed connect.
	ConnectionClosed
)

// DNSStatus is the result of a DNS lookup.
type DNSStatus uint8

const (
	// DNSStatusOK: the name was resolved.
	DNSStatusOK DNSStatus = iota
	// DNSStatusError: it was not; LastError (valid during the callback)
	// says why.
	DNSStatusError
)

// OpenStatus is the result of opening a file.
type OpenStatus uint8

const (
	// OpenStatusOK: the file is open.
	OpenStatusOK OpenStatus = iota
	// OpenStatusNotFound: the file, or a directory on its path, does not
	// exist.
	OpenStatusNotFound
	// OpenStatusNotAccessible: permission denied, or a read-only file
	// system.
	OpenStatusNotAccessible
	// OpenStatusIsDirectory: the path names a directory.
	OpenStatusIsDirectory
	// OpenStatusAlreadyExists: FileCreateNew found the file existing.
	OpenStatusAlreadyExists
	// OpenStatusSharingViolation: another process holds the file in a way
	// that excludes this open (Windows).
	OpenStatusSharingViolation
	// OpenStatusError: any other failure (Files.Open returns the error
	// itself).
	OpenStatusError
)

// CloseStatus is the result of closing a file or pipe.
type CloseStatus uint8

const (
	// CloseStatusOK: closed.
	CloseStatusOK CloseStatus = iota
	// CloseStatusIOError: the system reported an error while closing
	// (data may not have been written); LastError says why.
	CloseStatusIOError
	// CloseStatusInvalidHandle: the handle is not valid, or was closed
	// already.
	CloseStatusInvalidHandle
)

// SignalStatus is the status passed to a signal callback.
type SignalStatus uint8

const (
	// SignalStatusOK: the signal was received.
	SignalStatusOK SignalStatus = iota
	// SignalStatusError: the listener failed.
	SignalStatusError
)

var (
	exitReasonNames      = []string{"timeout", "idle", "outOfWaiters", "exited"}
	ioModeNames          = []string{"immediate", "once", "all"}
	ioStatusNames        = []string{"ok", "disconnected", "error", "wouldBlock", "invalidHandle", "busy", "readPastEOF", "noSpaceLeft", "notAllowed", "truncated"}
	dnsStatusNames       = []string{"ok", "error"}
	openStatusNames      = []string{"ok", "notFound", "notAccessible", "isDirectory", "alreadyExists", "sharingViolation", "error"}
	closeStatusNames     = []string{"ok", "ioError", "invalidHandle"}
	connectStatusNames   = []string{"connected", "refused", "timeout", "bindFailure", "socketCreateFailure", "unreachable", "unknownError"}
	connectionStateNames = []string{"initialized", "connecting", "connected", "passiveClose", "activeClose", "closed"}
	signalStatusNames    = []string{"ok", "error"}
)

func enumString(names []string, v uint8, typ string) string {
	if int(v) < len(names) {
		return names[v]
	}
	return typ + "(" + strconv.Itoa(int(v)) + ")"
}

// String returns the seed's name of the value, e.g. "outOfWaiters".
func (r ExitReason) String() string { return enumString(exitReasonNames, uint8(r), "ExitReason") }

// String returns the seed's name of the value, e.g. "once".
func (m IOMode) String() string { return enumString(ioModeNames, uint8(m), "IOMode") }

// String returns the seed's name of the value, e.g. "wouldBlock".
func (s IOStatus) String() string { return enumString(ioStatusNames, uint8(s), "IOStatus") }

// String returns the seed's name of the value, e.g. "refused".
func (s ConnectStatus) String() string {
	return enumString(connectStatusNames, uint8(s), "ConnectStatus")
}

// String returns the seed's name of the value, e.g. "passiveClose".
func (s ConnectionState) String() string {
	return enumString(connectionStateNames, uint8(s), "ConnectionState")
}

// String returns the seed's name of the value, e.g. "ok".
func (s SignalStatus) String() string { return enumString(signalStatusNames, uint8(s), "SignalStatus") }

// String returns the seed's name of the value, e.g. "error".
func (s DNSStatus) String() string { return enumString(dnsStatusNames, uint8(s), "DNSStatus") }

// String returns the name of the value, e.g. "notFound".
func (s OpenStatus) String() string { return enumString(openStatusNames, uint8(s), "OpenStatus") }

// String returns the name of the value, e.g. "ioError".
func (s CloseStatus) String() string { return enumString(closeStatusNames, uint8(s), "CloseStatus") }

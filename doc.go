// Package eventcore is a callback-based event loop: sockets (TCP, UDP,
// Unix-domain), timers, signals, cross-goroutine events, file I/O, directory
// watching, pipes, child processes and DNS on one loop, with no goroutine
// per connection and no allocation on the hot paths. It is the Go
// counterpart of eventcore, the D library under vibe.d, and keeps its
// interface: a [Driver] groups [Core], [Timers], [Events], [Signals],
// [Sockets], [DNS], [Files], [Watchers], [Pipes] and [Processes],
// operations are proactor-style ("read into this buffer, call me when
// done"), and results are status enums that a callback switches on.
//
// Work that has no asynchronous form on the platform (file I/O on readiness
// drivers, name resolution) runs on small pools of worker goroutines per
// driver, one for files ([WithWorkers]) and one for DNS lookups
// ([WithDNSWorkers]), and completes on the loop like everything else.
//
// # Loop and owner
//
// [New] creates a driver; the platform's best mechanism is the default
// (epoll on Linux, kqueue on macOS and the BSDs, winapi on Windows) and
// [Drivers] lists the others (poll, on every POSIX system). EVENTCORE_DRIVER or
// [WithDriver] picks one by name. The goroutine that calls
// Core().ProcessEvents owns the loop: every callback runs on it, from
// ProcessEvents (or from the call that started an operation, see below),
// and only it may call the driver's methods, except Core.Exit,
// Core.RunInOwnerThread and Events.Trigger, which any goroutine may call.
// Run one driver per goroutine to use several cores. A call from another
// goroutine is not detected unless the program is built with the tag
// eventcore_checked (go test -tags eventcore_checked ./...): then it panics
// at the call, naming the method and both goroutines (see [Driver]).
//
// # Drivers
//
// Every driver implements the API with the same semantics; they differ in
// the OS mechanism that tells the loop a descriptor is ready (on Windows,
// that an operation has completed). What a system lacks gives
// ErrNotSupported: where a process's exit is heard only through
// SIGCHLD (Linux before 5.3, the poll driver on macOS and the BSDs),
// [Processes.Adopt] refuses a process that is not a child of this one.
// Directory watching works on every driver, through what the system
// offers: inotify on Linux, ReadDirectoryChangesW on Windows, and
// elsewhere snapshots of each directory, read again when kqueue reports a
// change to it (EVFILT_VNODE) or, under poll, every second.
// epoll (Linux) and kqueue (macOS, FreeBSD, NetBSD, OpenBSD, DragonFly)
// are edge-triggered: a descriptor is registered once. poll runs on every
// POSIX system; it is level-triggered, so the loop tells it which
// directions have pending operations, and each wait costs time in
// proportion to the number of descriptors with pending operations. On
// darwin and OpenBSD, which allow system calls only through their C
// library, accepting a connection and receiving or sending a datagram with
// an explicit address allocate that address (x/sys offers no
// allocation-free form there); elsewhere those paths allocate nothing.
//
// The iouring driver (Linux 6.1 or later) watches descriptors through
// io_uring, edge-triggered like epoll, and submits its requests and waits
// for completions in one io_uring_enter per loop iteration. [Drivers]
// lists it, and [WithDriver] gets it, only where io_uring can be set up:
// where the kernel lacks it, kernel.io_uring_disabled forbids it, or a
// seccomp profile refuses it, asking for it gives an error saying why, and
// New keeps epoll as the default. The kernel lets one thread use a ring
// as this driver sets it up, so the goroutine that first waits on the
// loop, or closes a descriptor of it, is locked to its OS thread
// (runtime.LockOSThread) for good; a goroutine that takes the loop over
// moves it to a ring of its own thread, and is locked too. A stream
// socket's write that may wait (not [IOModeImmediate]) is a send request
// of the ring from its start, sent with the loop's next submission; its
// callback runs when the send completes. On Linux 6.13 and later a send
// names its socket by a slot of the ring's file table (registered at the
// loop's first send: 16,384 slots at most, 8 bytes each in the kernel),
// so the kernel takes no reference to the file per send. Files' reads, writes, closes and
// truncations are requests of the ring, not worker-pool jobs (see
// [Files]). A wake-up from another goroutine ([Core.RunInOwnerThread],
// [Events.Trigger]) wakes the loop's locked thread, which costs a thread
// switch (microseconds) where the epoll driver's loop is woken as a
// goroutine is; for a loop fed mostly by other goroutines, epoll is the
// better choice. Connections are accepted as on epoll (readiness, then
// accept4): a multishot accept does not give each peer's address, which
// the accept callback passes on, so a getpeername per connection would
// cost the system call it saves.
//
// # Windows
//
// The winapi driver completes overlapped I/O with completion routines,
// which Windows runs on the thread that started the operation while that
// thread waits alertably, and it waits in MsgWaitForMultipleObjectsEx, so
// ProcessEvents is also the thread's message loop: it dispatches the
// window messages of the thread (to window procedures, through
// DispatchMessage) while it waits, and a WM_QUIT (PostQuitMessage) makes it
// return ExitExited. Window messages are not waiters: a GUI loop keeps
// something to wait for (an event wait will do) or gets ExitOutOfWaiters.
//
// Because of that thread affinity, New locks the calling goroutine to its
// OS thread (runtime.LockOSThread) until that goroutine calls Dispose; a
// different goroutine that runs ProcessEvents is locked too, for good, and
// its thread becomes the loop's. Create, run and dispose a driver on one
// goroutine. Other differences on Windows: a pipe is an overlapped named
// pipe (anonymous pipes cannot be adopted), and an IOModeImmediate write
// to one behaves as IOModeOnce; Unix-domain sockets are stream sockets only
// and need Windows 10 1803; SO_REUSEPORT, IP_TRANSPARENT and
// TCP_USER_TIMEOUT are ErrNotSupported, and ListenReuseAddress is implied
// (Windows's SO_REUSEADDR would let another socket take the port); the
// only signals are os.Interrupt (Ctrl-C, Ctrl-Break) and SIGTERM (the
// console closing); a cancelled write may have sent part of its buffer, as
// everywhere, and Windows may then reset the connection.
//
// # Callbacks
//
// Every callback other than a "listen" one (accept, signal) runs at most
// once, and exactly once unless its operation is cancelled; after a cancel
// returns, the callback never runs. When a result is known at once (data
// already buffered, a failure, a misuse), the callback may run before the
// call that started the operation returns, as in eventcore; the methods say
// where. Such synchronous completions nest at most a few levels deep; beyond
// that they are finished from the loop, so a peer that always has data ready
// cannot grow the stack without bound. A socket or pipe operation in
// IOModeImmediate is the exception (but for a pipe write on Windows): it
// always completes, and runs its callback, before the call that started it
// returns, so a callback may hand it a buffer that is reused right after
// (see examples/http). File operations take IOModeImmediate as IOModeOnce
// and complete from ProcessEvents.
//
// A cancelled operation's buffer is the caller's again once the cancel
// returns: the driver never touches it after that (a cancel waits for a
// system call in flight that uses it, and drops an operation not yet
// started), so the caller may reuse it at once.
//
// A read needs no buffer of the caller's at all with [Sockets.ReadLoaned]:
// the loop reads into a buffer of its own once data is there (on io_uring,
// the kernel receives into the loop's buffer ring, and reads of every kind
// on that socket are served from what it received) and lends it to the
// callback until the callback returns, so a connection that waits holds no
// buffer, whatever the driver. Built with the tag
// eventcore_checked, the loop overwrites a lent buffer's bytes when the
// loan ends, so that a caller that kept them sees garbage at once.
//
// A callback may call ProcessEvents; the nested call finishes the batch the
// callback belongs to before it waits for anything new. A callback that
// panics, the panic recovered around ProcessEvents, leaves the loop
// consistent, and the next ProcessEvents delivers what the panic
// interrupted (see [Core.ProcessEvents]).
//
// # Handles
//
// Handles are small value types, one per kind ([StreamSocket],
// [StreamListener], [DatagramSocket], [TimerID], [EventID], [EventWaitID],
// [SignalID], [File], [Pipe], [WatcherID], [ProcessID], [ProcessWaitID],
// [DNSLookupID]); the zero value is invalid. A handle carries a generation, so
// a released handle is refused even after its slot, or its file descriptor,
// has been reused (until the slot has been reused 2^27 times); so are
// handles of another kind, and handles of another driver: each live driver
// of the process tags its handles with a tag of its own, up to 256 live
// drivers, and one beyond them shares a tag but begins its generations at
// random. A driver holds up to 16,777,214 live handles of a kind, sockets
// and pipes counted together ([ErrTooManyHandles] beyond). Misuse
// never panics: it is reported by a status (IOStatusInvalidHandle,
// IOStatusBusy), a false result or an error, and [Driver.LastError] returns
// the error behind the last failure status of a handle. Handles are
// reference-counted (AddRef, ReleaseRef); [UserData] attaches a typed value
// to any handle. [Driver.Dispose] frees everything and reports what was left
// open.
//
// # Differences from eventcore
//
// The API is translated, not transliterated:
//
//   - Driver and its parts are concrete types, not interfaces: calls are
//     direct and the compiler can prove that a handle passed as a
//     [SocketHandle] does not escape, which keeps the hot paths free of
//     allocation. Drivers differ internally (see Drivers).
//   - Go funcs are not comparable, so Events.Wait returns an [EventWaitID]
//     that Events.CancelWait takes (the seed's EventWaitID).
//   - Events.Trigger is goroutine-safe and never runs callbacks itself: they
//     run from ProcessEvents even when the owner triggers.
//   - Timers.Set on an armed timer moves its deadline and keeps a pending
//     wait, instead of stopping the timer first (which calls the wait with
//     fired == false). Timers.Wait holds a reference, as in eventcore.
//   - ReleaseRef reports whether the handle is still alive: false both when
//     the call freed it and when the handle was invalid.
//   - Sockets.ConnectStream always returns a handle, which the caller
//     releases; when the connection fails the socket is closed but the handle
//     stays valid, so that LastError can tell why.
//   - Synchronous calls that can fail return an error in the Go way; the OS
//     error is returned as is (errors.Is(err, syscall.EADDRINUSE) works).
//   - Addresses are [Addr] values (an IP address and port, or a Unix-domain
//     path) instead of std.socket.Address: converting and copying one
//     allocates nothing.
//   - RunInOwnerThread takes a func(), the closure replacing the seed's
//     function pointer and parameter.
//   - Signals arrive through os/signal: the Go runtime owns the process's
//     signal handlers.
//   - Sockets have LeaveMulticastGroup, SetMulticastInterface and
//     SetMulticastTTL besides the seed's options, and stream connections
//     start with TCP_NODELAY on, as in Go's net.
//   - Files has FileCreate and FileCreateNew besides the seed's open modes,
//     OpenAsync besides Open, and Truncate; IOStatus has readPastEOF,
//     noSpaceLeft and notAllowed for what files report, and truncated for
//     a received datagram larger than the buffer (the seed's callback has
//     no other way to tell it).
//   - FileChangeOverflow reports that the system dropped directory changes.
//   - Process waits return a ProcessWaitID for CancelWait, like events.
package eventcore

//go:build linux

package eventcore

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// needUring skips t where io_uring cannot be set up.
func needUring(t *testing.T) {
	t.Helper()
	if !slices.Contains(Drivers(), "iouring") {
		t.Skip("io_uring is not available here")
	}
}

// uringSocket makes an iouring driver for t and adopts one end of a new
// stream pair: it returns the driver, its poller, the socket and the pair,
// whose other end closes when t ends.
func uringSocket(t *testing.T) (*Driver, *uringPoller, StreamSocket, [2]uintptr) {
	t.Helper()
	d := newTestDriver(t, "iouring")
	sock, fds := uringSocketOn(t, d)
	return d, d.l.p.(*uringPoller), sock, fds
}

// uringSocketOn adopts one end of a new stream pair on d, and returns the
// socket and the pair, whose other end closes when t ends.
func uringSocketOn(t *testing.T, d *Driver) (StreamSocket, [2]uintptr) {
	t.Helper()
	fds := rawStreamPair(t)
	t.Cleanup(func() { rawClose(fds[1]) })
	sock, err := d.Sockets().AdoptStream(fds[0])
	if err != nil {
		t.Fatal(err)
	}
	return sock, fds
}

// stalledUringSocket is uringSocket, the socket's send buffer full, its
// peer reading nothing, the socket released when t ends.
func stalledUringSocket(t *testing.T) (*Driver, *uringPoller, StreamSocket, [2]uintptr) {
	t.Helper()
	needUring(t)
	d, p, sock, fds := uringSocket(t)
	t.Cleanup(func() { d.Sockets().ReleaseRef(sock) })
	for rawWrite(fds[0], make([]byte, 64<<10)) == nil {
	}
	return d, p, sock, fds
}

// Where io_uring cannot be set up (a container's seccomp profile, a kernel
// without it, kernel.io_uring_disabled), the iouring driver is not
// offered, New picks epoll, and asking for iouring fails with the reason.
// A child process (this test binary, see helperEnv) makes io_uring_setup
// fail with a seccomp filter before the driver first tries it.
func TestUringUnavailable(t *testing.T) {
	for _, errno := range []unix.Errno{unix.EPERM, unix.ENOSYS} {
		t.Run(errno.Error(), func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), helperEnv+"=uring-seccomp:"+strconv.Itoa(int(errno)), "EVENTCORE_DRIVER=")
			out, err := cmd.CombinedOutput()
			switch s := strings.TrimSpace(string(out)); {
			case strings.HasPrefix(s, "skip:"):
				t.Skip(s)
			case err != nil || s != "ok":
				t.Fatalf("child: %v: %s", err, s)
			}
		})
	}
}

func init() {
	mode, ok := strings.CutPrefix(os.Getenv(helperEnv), "uring-seccomp:")
	if !ok {
		return
	}
	errno, _ := strconv.Atoi(mode)
	if err := denyUringSetup(unix.Errno(errno)); err != nil {
		fmt.Println("skip: no seccomp filter:", err)
		os.Exit(0)
	}
	if err := checkUringFallback(unix.Errno(errno)); err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	fmt.Println("ok")
	os.Exit(0)
}

// denyUringSetup installs, on every thread of the process, a seccomp
// filter that fails io_uring_setup with errno and allows everything else.
// (The child makes only native system calls, so the filter does not look
// at the architecture.)
func denyUringSetup(errno unix.Errno) error {
	prog := []unix.SockFilter{
		{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: 0}, // seccomp_data.nr
		{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: unix.SYS_IO_URING_SETUP, Jt: 0, Jf: 1},
		{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ERRNO | uint32(errno)},
		{Code: unix.BPF_RET | unix.BPF_K, K: unix.SECCOMP_RET_ALLOW},
	}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	// no_new_privs is per thread: set it on the one that installs the
	// filter, which TSYNC copies to the others with the filter.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return err
	}
	const tsync = 1 // SECCOMP_FILTER_FLAG_TSYNC
	if _, _, e := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, tsync, uintptr(unsafe.Pointer(&fprog))); e != 0 {
		return e
	}
	return nil
}

func checkUringFallback(errno unix.Errno) error {
	if names := Drivers(); slices.Contains(names, "iouring") || len(names) == 0 || names[0] != "epoll" {
		return fmt.Errorf("Drivers() = %v with io_uring_setup failing, want epoll first and no iouring", names)
	}
	d, err := New()
	if err != nil {
		return fmt.Errorf("New(): %v", err)
	}
	name := d.Name()
	d.Dispose()
	if name != "epoll" {
		return fmt.Errorf("New() picked %q, want epoll", name)
	}
	d, err = New(WithDriver("iouring"))
	if err == nil {
		d.Dispose()
		return errors.New(`New(WithDriver("iouring")) succeeded with io_uring_setup failing`)
	}
	if !errors.Is(err, errno) || !strings.Contains(err.Error(), "io_uring") {
		return fmt.Errorf(`New(WithDriver("iouring")): %q, want an io_uring error wrapping %v`, err, errno)
	}
	return nil
}

// A loop taken over by another goroutine (so, here, another thread) goes
// on: the kernel refuses the new thread's enter on the first thread's
// ring, and the poller moves to a new ring with every poll re-armed. Data
// that arrived before the move is reported after it, and a socket closed
// after it is closed at once.
func TestUringHandover(t *testing.T) {
	needUring(t)
	d := newTestDriver(t, "iouring")
	s := d.Sockets()
	fds := rawStreamPair(t)
	sock, err := s.AdoptStream(fds[0])
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)
	// read takes the loop over (see Driver), starts a read, which finds
	// nothing, then has want sent.
	read := func(want string) error {
		d.Core().ProcessEvents(0)
		var r ioResult
		s.Read(sock, buf, IOModeOnce, r.cb)
		rawWrite(fds[1], []byte(want))
		for deadline := time.Now().Add(hangLimit); !r.done; {
			if time.Now().After(deadline) {
				return fmt.Errorf("gave up waiting to read %q", want)
			}
			d.Core().ProcessEvents(10 * time.Millisecond)
		}
		if r.status != IOStatusOK || string(buf[:r.n]) != want {
			return fmt.Errorf("read %v %q, want %q", r.status, buf[:r.n], want)
		}
		return nil
	}
	done := make(chan error)
	go func() { done <- read("first") }()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := read("second"); err != nil {
		t.Fatal(err)
	}
	// The ring the first goroutine's thread made is closed at the
	// handover; the kernel frees its requests, and with them their hold on
	// the descriptors registered before, in the background: the socket
	// closes a moment after its release, not at once.
	s.ReleaseRef(sock)
	for deadline := time.Now().Add(hangLimit); !peerClosed(fds[1]); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("socket not closed after its release, after the handover")
		}
	}
	rawClose(fds[1])
}

// A descriptor registered when the submission queue is full, on a loop
// taken over by another goroutine, is polled once on the new ring the
// poller moves to: its release then leaves no poll holding it open.
func TestUringAddDuringHandover(t *testing.T) {
	needUring(t)
	d := newTestDriver(t, "iouring")
	s := d.Sockets()
	p := d.l.p.(*uringPoller)
	done := make(chan struct{})
	go func() { // the first ring, bound to this goroutine's thread
		p.enter(0, 0, nil, false)
		close(done)
	}()
	<-done
	for p.r.sqe() != nil {
	}
	fds := rawStreamPair(t)
	defer rawClose(fds[1])
	sock, err := s.AdoptStream(fds[0])
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)
	var r ioResult
	s.Read(sock, buf, IOModeOnce, r.cb)
	rawWrite(fds[1], []byte("hello"))
	runUntil(t, d, "read", func() bool { return r.done })
	if r.status != IOStatusOK || string(buf[:r.n]) != "hello" {
		t.Fatalf("read %v %q", r.status, buf[:r.n])
	}
	s.ReleaseRef(sock)
	// The peer reads the end once the socket is closed (a write, as
	// peerClosed makes, would fill the socket's buffer and block).
	syscall.SetNonblock(int(fds[1]), true)
	for deadline := time.Now().Add(hangLimit); ; time.Sleep(time.Millisecond) {
		if n, err := syscall.Read(int(fds[1]), buf); n == 0 && err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("socket not closed after its release")
		}
	}
}

// A descriptor's release waits until the ring has let go of it, even when
// the cancel of its poll queues behind the wake-ups of many others (an
// enter runs only so much task work): its peer reads the end at once.
func TestUringCloseBehindWakeups(t *testing.T) {
	needUring(t)
	d := newTestDriver(t, "iouring")
	s := d.Sockets()
	var socks []StreamSocket
	var peers []uintptr
	for range 200 {
		fds := rawStreamPair(t)
		sock, err := s.AdoptStream(fds[0])
		if err != nil {
			t.Fatal(err)
		}
		socks = append(socks, sock)
		peers = append(peers, fds[1])
	}
	buf := make([]byte, 8)
	for _, sock := range socks {
		s.Read(sock, buf, IOModeOnce, func(StreamSocket, IOStatus, int) {})
	}
	d.Core().ProcessEvents(0) // the polls armed
	for _, fd := range peers[1:] {
		rawWrite(fd, []byte("wake"))
	}
	// Each write queued a wake-up's task work in the ring; the release
	// comes before any enter runs them (an enter runs at most 40).
	s.ReleaseRef(socks[0])
	var b [8]byte
	syscall.SetNonblock(int(peers[0]), true)
	if n, err := syscall.Read(int(peers[0]), b[:]); n != 0 || err != nil {
		t.Fatalf("peer of the released socket read %d, %v, not the end", n, err)
	}
	for i, sock := range socks[1:] {
		s.ReleaseRef(sock)
		rawClose(peers[i+1])
	}
	rawClose(peers[0])
}

// Completions the poller takes while it waits for one of its own (a
// receive's end when a loaned-read socket closes) are events the loop
// reports at its next wait, which must not sleep before it has.
func TestUringEventsTakenEarly(t *testing.T) {
	needUring(t)
	d := newTestDriver(t, "iouring")
	s := d.Sockets()
	a, b := rawStreamPair(t), rawStreamPair(t)
	defer rawClose(a[1])
	defer rawClose(b[1])
	sa, err := s.AdoptStream(a[0])
	if err != nil {
		t.Fatal(err)
	}
	sb, err := s.AdoptStream(b[0])
	if err != nil {
		t.Fatal(err)
	}
	defer s.ReleaseRef(sb)
	defer s.ReleaseRef(sa)
	s.ReadLoaned(sa, func(StreamSocket, IOStatus, []byte) {})
	buf := make([]byte, 8)
	var r ioResult
	s.Read(sb, buf, IOModeOnce, r.cb)
	d.Core().ProcessEvents(0)
	if !d.l.p.(*uringPoller).rx.socks.at(int(a[0])).armed {
		t.Fatal("no receive armed for the loaned read")
	}
	rawWrite(b[1], []byte("ready"))
	// Shutting a's reading down waits for its receive's end, taking b's
	// readiness too.
	if err := s.Shutdown(sa, true, false); err != nil {
		t.Fatal(err)
	}
	guard := d.Timers().Create()
	defer d.Timers().ReleaseRef(guard)
	d.Timers().Set(guard, hangLimit, 0)
	d.Core().ProcessEvents(Infinite)
	if !d.Timers().IsPending(guard) || !r.done || string(buf[:r.n]) != "ready" {
		t.Fatalf("the loop slept with b's readiness taken: read %+v", r)
	}
}

// A send queued on a ring that the loop's goroutine may not submit to (the
// ring's thread is another's), then cancelled: the cancel's enter moves
// the poller to a new ring, which takes the send over, and the cancel
// follows it there. The socket's buffer is full and its peer does not
// read, so the send would wait for ever.
func TestUringCancelDuringHandover(t *testing.T) {
	d, p, sock, fds := stalledUringSocket(t)
	s := d.Sockets()
	bound := make(chan struct{})
	go func() { // binds the ring to this goroutine's thread
		p.enter(0, 0, nil, false)
		close(bound)
	}()
	<-bound
	s.Write(sock, make([]byte, 1<<20), IOModeAll, func(StreamSocket, IOStatus, int) { t.Error("cancelled write called") })
	if p.r.unsubmitted == 0 {
		t.Fatal("the send is not waiting in the first ring's queue")
	}
	// Should the cancel wait for the send, the peer reading lets it end.
	var hung atomic.Bool
	watchdog := time.AfterFunc(hangLimit, func() {
		hung.Store(true)
		syscall.SetNonblock(int(fds[1]), true)
		for b := make([]byte, 1<<20); ; {
			if _, err := syscall.Read(int(fds[1]), b); err != nil {
				return
			}
		}
	})
	s.CancelWrite(sock)
	watchdog.Stop()
	if hung.Load() {
		t.Fatal("CancelWrite waited for a send its peer never let finish")
	}
	runFor(d, 20*time.Millisecond)
}

// A wait that moves the poller to a new ring reports at once what the move
// ended (a send in flight on the left ring fails), rather than sleeping on
// the new ring until something else happens.
func TestUringHandoverReportsAtOnce(t *testing.T) {
	d, _, sock, _ := stalledUringSocket(t)
	s := d.Sockets()
	var w ioResult
	sent := make(chan struct{})
	park := make(chan struct{})
	defer close(park)
	go func() { // the first ring: its thread stays, parked
		d.Core().ProcessEvents(0)
		s.Write(sock, make([]byte, 1<<20), IOModeAll, w.cb)
		d.Core().ProcessEvents(0) // submits the send, which waits for room
		close(sent)
		<-park
	}()
	<-sent
	if w.done {
		t.Fatalf("the send completed on a full socket: %+v", w)
	}
	d.Core().ProcessEvents(0) // takes the loop over
	guard := d.Timers().Create()
	defer d.Timers().ReleaseRef(guard)
	d.Timers().Set(guard, hangLimit, 0)
	d.Core().ProcessEvents(Infinite)
	if !d.Timers().IsPending(guard) || !w.done {
		t.Fatalf("the wait slept on the new ring with the send's end to report: %+v", w)
	}
}

//go:build unix

package eventcore

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Micro-benchmarks of the hot paths, one driver operation each, with the
// other end of the traffic a plain socket driven by system calls, so that
// what is timed is the driver's path. go test -bench . -benchmem runs them;
// TestAllocsHotPaths asserts that each allocates nothing in steady state.
// Callbacks are method values made once, as a server keeps them.

type hotPath struct {
	name string
	// setup prepares the path on d and returns one cycle of it and what
	// frees what setup made.
	setup func(tb testing.TB, d *Driver) (cycle, done func())
}

var hotPaths = []hotPath{
	{"StreamRead", setupStreamRead},
	{"StreamReadLoaned", setupStreamReadLoaned},
	{"StreamWrite", setupStreamWrite},
	{"Accept", setupAccept},
	{"TimerRearm", setupTimerRearm},
	{"EventTrigger", setupEventTrigger},
	{"DatagramReceive", setupDatagramReceive},
}

const hotMsg = 64

// plainPeer returns a connection accepted by the driver and the descriptor
// of its plain-socket peer.
func plainPeer(tb testing.TB, d *Driver) (StreamSocket, int) {
	s := d.Sockets()
	var conn StreamSocket
	lst, err := s.ListenStream(MustParseAddr("127.0.0.1:0"), ListenDefaults,
		func(_ StreamListener, c StreamSocket, _ Addr) { conn = c })
	if err != nil {
		tb.Fatal(err)
	}
	defer s.ReleaseRef(lst)
	fd := plainDial(tb, listenAddr(tb, d, lst))
	for deadline := time.Now().Add(hangLimit); conn == (StreamSocket{}); {
		if time.Now().After(deadline) {
			tb.Fatal("no connection accepted")
		}
		d.Core().ProcessEvents(10 * time.Millisecond)
	}
	return conn, fd
}

// listenAddr is where the listener (on 127.0.0.1) accepts connections.
func listenAddr(tb testing.TB, d *Driver, lst SocketHandle) *unix.SockaddrInet4 {
	a, err := d.Sockets().LocalAddress(lst)
	if err != nil {
		tb.Fatal(err)
	}
	return &unix.SockaddrInet4{Port: int(a.Port()), Addr: [4]byte{127, 0, 0, 1}}
}

// plainDial connects a blocking plain socket to sa.
func plainDial(tb testing.TB, sa *unix.SockaddrInet4) int {
	fd := int(rawSocket(tb, sockStream))
	if err := unix.Connect(fd, sa); err != nil {
		tb.Fatal(err)
	}
	return fd
}

func setupStreamRead(tb testing.TB, d *Driver) (func(), func()) {
	s := d.Sockets()
	conn, fd := plainPeer(tb, d)
	msg, buf := make([]byte, hotMsg), make([]byte, hotMsg)
	var r ioResult
	rcb := r.cb
	cycle := func() {
		r = ioResult{}
		unix.Write(fd, msg)
		s.Read(conn, buf, IOModeAll, rcb)
		for !r.done {
			d.Core().ProcessEvents(hangLimit)
		}
	}
	return cycle, func() { s.ReleaseRef(conn); unix.Close(fd) }
}

func setupStreamReadLoaned(tb testing.TB, d *Driver) (func(), func()) {
	s := d.Sockets()
	conn, fd := plainPeer(tb, d)
	msg := make([]byte, hotMsg)
	got, done := 0, false
	rcb := LoanCallback(func(_ StreamSocket, _ IOStatus, data []byte) { got, done = got+len(data), true })
	cycle := func() {
		got = 0
		unix.Write(fd, msg)
		for got < hotMsg {
			done = false
			s.ReadLoaned(conn, rcb)
			for !done {
				d.Core().ProcessEvents(hangLimit)
			}
		}
	}
	return cycle, func() { s.ReleaseRef(conn); unix.Close(fd) }
}

func setupStreamWrite(tb testing.TB, d *Driver) (func(), func()) {
	s := d.Sockets()
	conn, fd := plainPeer(tb, d)
	msg, buf := make([]byte, hotMsg), make([]byte, hotMsg)
	var w ioResult
	wcb := w.cb
	cycle := func() {
		w = ioResult{}
		s.Write(conn, msg, IOModeAll, wcb)
		for !w.done {
			d.Core().ProcessEvents(hangLimit)
		}
		for got := 0; got < hotMsg; {
			n, err := unix.Read(fd, buf[got:])
			if err != nil || n == 0 {
				tb.Fatalf("peer read: %d, %v", n, err)
			}
			got += n
		}
	}
	return cycle, func() { s.ReleaseRef(conn); unix.Close(fd) }
}

func setupTimerRearm(tb testing.TB, d *Driver) (func(), func()) {
	tm := d.Timers()
	// Among other armed timers, as a server's idle timeouts are.
	others := make([]TimerID, 1000)
	for i := range others {
		others[i] = tm.Create()
		tm.Set(others[i], time.Hour+time.Duration(i)*time.Millisecond, 0)
	}
	id := tm.Create()
	i := 0
	cycle := func() {
		i++
		tm.Set(id, time.Hour+time.Duration(i%2000)*time.Millisecond, time.Hour)
	}
	return cycle, func() {
		tm.ReleaseRef(id)
		for _, o := range others {
			tm.ReleaseRef(o)
		}
	}
}

func setupDatagramReceive(tb testing.TB, d *Driver) (func(), func()) {
	s := d.Sockets()
	sock, err := s.CreateDatagramSocket(MustParseAddr("127.0.0.1:0"), Addr{}, 0)
	if err != nil {
		tb.Fatal(err)
	}
	fd := int(rawSocket(tb, sockDgram))
	if err := unix.Connect(fd, listenAddr(tb, d, sock)); err != nil {
		tb.Fatal(err)
	}
	msg, buf := make([]byte, hotMsg), make([]byte, hotMsg)
	var r dgramResult
	rcb := r.cb
	cycle := func() {
		r = dgramResult{}
		unix.Write(fd, msg)
		s.Receive(sock, buf, IOModeOnce, rcb)
		for !r.done {
			d.Core().ProcessEvents(hangLimit)
		}
	}
	return cycle, func() { s.ReleaseRef(sock); unix.Close(fd) }
}

func TestAllocsHotPaths(t *testing.T) {
	skipUnderRace(t)
	forEachDriver(t, func(t *testing.T, d *Driver) {
		for _, hp := range hotPaths {
			cycle, done := hp.setup(t, d)
			noAllocs(t, hp.name, cycle, done)
		}
	})
}

func BenchmarkHotPaths(b *testing.B) {
	for _, name := range testDrivers(nil) {
		for _, hp := range hotPaths {
			b.Run(name+"/"+hp.name, func(b *testing.B) {
				d, err := New(WithDriver(name))
				if err != nil {
					b.Fatal(err)
				}
				defer d.Dispose()
				cycle, done := hp.setup(b, d)
				defer done()
				for range 100 {
					cycle()
				}
				b.ReportAllocs()
				b.ResetTimer()
				for range b.N {
					cycle()
				}
			})
		}
	}
}

package eventcore_test

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/eventcore-go/eventcore"
)

// A TCP echo exchange on one loop: a listener, a client, and the accepted
// connection, all driven by callbacks.
func Example() {
	d, err := eventcore.New()
	if err != nil {
		panic(err)
	}
	defer d.Dispose()
	s := d.Sockets()

	buf := make([]byte, 64)
	lst, err := s.ListenStream(eventcore.MustParseAddr("127.0.0.1:0"), eventcore.ListenDefaults,
		func(_ eventcore.StreamListener, conn eventcore.StreamSocket, _ eventcore.Addr) {
			// Echo what arrives, once, then close.
			s.Read(conn, buf, eventcore.IOModeOnce, func(conn eventcore.StreamSocket, st eventcore.IOStatus, n int) {
				s.Write(conn, buf[:n], eventcore.IOModeAll, func(conn eventcore.StreamSocket, _ eventcore.IOStatus, _ int) {
					s.ReleaseRef(conn)
				})
			})
		})
	if err != nil {
		panic(err)
	}
	addr, _ := s.LocalAddress(lst)

	reply := make([]byte, len("hello"))
	s.ConnectStream(addr, eventcore.Addr{}, func(c eventcore.StreamSocket, st eventcore.ConnectStatus) {
		s.Write(c, []byte("hello"), eventcore.IOModeAll, func(c eventcore.StreamSocket, _ eventcore.IOStatus, _ int) {
			s.Read(c, reply, eventcore.IOModeAll, func(c eventcore.StreamSocket, st eventcore.IOStatus, n int) {
				fmt.Printf("%s: %q\n", st, reply[:n])
				s.ReleaseRef(c)
				s.ReleaseRef(lst) // nothing is left to wait for: the loop ends
			})
		})
	})
	for d.Core().ProcessEvents(eventcore.Infinite) != eventcore.ExitOutOfWaiters {
	}
	// Output: ok: "hello"
}

// An echo server whose connections hold no buffer while they wait: each
// read borrows the loop's buffer for the length of its callback. What a
// write does not take before the callback returns is copied.
func ExampleSockets_ReadLoaned() {
	d, err := eventcore.New()
	if err != nil {
		panic(err)
	}
	defer d.Dispose()
	s := d.Sockets()

	var onData eventcore.LoanCallback
	onData = func(conn eventcore.StreamSocket, st eventcore.IOStatus, data []byte) {
		if st != eventcore.IOStatusOK { // the peer closed, or the connection failed
			s.ReleaseRef(conn)
			return
		}
		s.Write(conn, data, eventcore.IOModeImmediate, func(conn eventcore.StreamSocket, _ eventcore.IOStatus, n int) {
			if n == len(data) {
				s.ReadLoaned(conn, onData)
				return
			}
			rest := append([]byte(nil), data[n:]...) // data is the loop's: keep a copy
			s.Write(conn, rest, eventcore.IOModeAll, func(conn eventcore.StreamSocket, _ eventcore.IOStatus, _ int) {
				s.ReadLoaned(conn, onData)
			})
		})
	}
	lst, err := s.ListenStream(eventcore.MustParseAddr("127.0.0.1:0"), eventcore.ListenDefaults,
		func(_ eventcore.StreamListener, conn eventcore.StreamSocket, _ eventcore.Addr) {
			s.ReadLoaned(conn, onData)
		})
	if err != nil {
		panic(err)
	}
	addr, _ := s.LocalAddress(lst)

	reply := make([]byte, len("hello"))
	s.ConnectStream(addr, eventcore.Addr{}, func(c eventcore.StreamSocket, st eventcore.ConnectStatus) {
		s.Write(c, []byte("hello"), eventcore.IOModeAll, func(c eventcore.StreamSocket, _ eventcore.IOStatus, _ int) {
			s.Read(c, reply, eventcore.IOModeAll, func(c eventcore.StreamSocket, st eventcore.IOStatus, n int) {
				fmt.Printf("%s: %q\n", st, reply[:n])
				s.ReleaseRef(c) // the server's read then ends: it releases its side
				s.ReleaseRef(lst)
			})
		})
	})
	for d.Core().ProcessEvents(eventcore.Infinite) != eventcore.ExitOutOfWaiters {
	}
	// Output: ok: "hello"
}

// ProcessEvents returns ExitOutOfWaiters once nothing is left that could
// produce an event; Exit, from any goroutine, makes it return ExitExited.
func ExampleCore() {
	d, _ := eventcore.New()
	defer d.Dispose()
	c := d.Core()
	fmt.Println(c.ProcessEvents(eventcore.Infinite))

	t := d.Timers().Create()
	d.Timers().Set(t, time.Hour, 0)
	go c.Exit()
	fmt.Println(c.ProcessEvents(eventcore.Infinite))
	d.Timers().ReleaseRef(t)
	// Output:
	// outOfWaiters
	// exited
}

// A periodic timer with a wait renewed in its callback; Stop calls the
// pending wait with fired == false.
func ExampleTimers() {
	d, _ := eventcore.New()
	defer d.Dispose()
	tm := d.Timers()
	t := tm.Create()
	defer tm.ReleaseRef(t)

	ticks := 0
	var tick eventcore.TimerCallback
	tick = func(t eventcore.TimerID, fired bool) {
		fmt.Println("fired:", fired)
		if ticks++; ticks < 3 {
			tm.Wait(t, tick)
		} else {
			tm.Wait(t, tick)
			tm.Stop(t)
		}
	}
	tm.Set(t, 10*time.Millisecond, 10*time.Millisecond)
	tm.Wait(t, tick)
	for d.Core().ProcessEvents(eventcore.Infinite) != eventcore.ExitOutOfWaiters {
	}
	// Output:
	// fired: true
	// fired: true
	// fired: true
	// fired: false
}

// Another goroutine hands work to the loop with an event.
func ExampleEvents() {
	d, _ := eventcore.New()
	defer d.Dispose()
	evs := d.Events()
	ev := evs.Create()
	defer evs.ReleaseRef(ev)

	results := make(chan int, 1)
	evs.Wait(ev, func(eventcore.EventID) { fmt.Println("result:", <-results) })
	go func() {
		results <- 42
		evs.Trigger(ev, true) // goroutine-safe
	}()
	d.Core().ProcessEvents(eventcore.Infinite)
	// Output: result: 42
}

// A UDP exchange between two datagram sockets.
func ExampleSockets_datagram() {
	d, _ := eventcore.New()
	defer d.Dispose()
	s := d.Sockets()
	a, _ := s.CreateDatagramSocket(eventcore.MustParseAddr("127.0.0.1:0"), eventcore.Addr{}, 0)
	b, _ := s.CreateDatagramSocket(eventcore.MustParseAddr("127.0.0.1:0"), eventcore.Addr{}, 0)
	defer s.ReleaseRef(a)
	defer s.ReleaseRef(b)
	bAddr, _ := s.LocalAddress(b)

	buf := make([]byte, 16)
	s.Receive(b, buf, eventcore.IOModeOnce, func(_ eventcore.DatagramSocket, st eventcore.IOStatus, n int, from eventcore.Addr) {
		fmt.Printf("%s %q\n", st, buf[:n])
	})
	s.Send(a, []byte("datagram"), eventcore.IOModeOnce, bAddr, nil)
	for d.Core().ProcessEvents(eventcore.Infinite) != eventcore.ExitOutOfWaiters {
	}
	// Output: ok "datagram"
}

// State kept per connection, dropped with the handle's last reference.
func ExampleUserData() {
	d, _ := eventcore.New()
	defer d.Dispose()
	type session struct{ requests int }
	t := d.Timers().Create()
	eventcore.UserData[session](d, t).requests++
	eventcore.UserData[session](d, t).requests++
	fmt.Println(eventcore.UserData[session](d, t).requests)
	d.Timers().ReleaseRef(t)
	fmt.Println(eventcore.UserData[session](d, t) == nil)
	// Output:
	// 2
	// true
}

// Writing and reading a file at offsets; the transfers run off the loop
// and complete on it.
func ExampleFiles() {
	d, _ := eventcore.New()
	defer d.Dispose()
	fs := d.Files()
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)

	f, err := fs.Open(filepath.Join(dir, "notes.txt"), eventcore.FileCreateTrunc)
	if err != nil {
		panic(err)
	}
	buf := make([]byte, 5)
	fs.Write(f, 0, []byte("hello, files"), eventcore.IOModeAll, func(f eventcore.File, st eventcore.IOStatus, n int) {
		fs.Read(f, 7, buf, eventcore.IOModeAll, func(f eventcore.File, st eventcore.IOStatus, n int) {
			fmt.Printf("%s %q\n", st, buf[:n])
			fs.ReleaseRef(f)
		})
	})
	for d.Core().ProcessEvents(eventcore.Infinite) != eventcore.ExitOutOfWaiters {
	}
	// Output: ok "files"
}

// Name resolution on the loop; /etc/hosts (or the system's equivalent)
// answers for localhost.
func ExampleDNS() {
	d, _ := eventcore.New()
	defer d.Dispose()
	d.DNS().LookupHost("localhost", func(id eventcore.DNSLookupID, st eventcore.DNSStatus, addrs []eventcore.Addr) {
		fmt.Println(st, len(addrs) > 0 && addrs[0].AddrPort().Addr().IsLoopback())
	})
	d.Core().ProcessEvents(eventcore.Infinite)
	// Output: ok true
}

// A watcher reports a file created in the watched directory.
func ExampleWatchers() {
	d, _ := eventcore.New()
	defer d.Dispose()
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)

	id, err := d.Watchers().WatchDirectory(dir, true, func(id eventcore.WatcherID, c eventcore.FileChange) {
		fmt.Println(c.Kind, c.Name)
		d.Watchers().ReleaseRef(id)
	})
	if err != nil {
		panic(err)
	}
	_ = id
	os.WriteFile(filepath.Join(dir, "new.txt"), nil, 0o644)
	for d.Core().ProcessEvents(eventcore.Infinite) != eventcore.ExitOutOfWaiters {
	}
	// Output: added new.txt
}

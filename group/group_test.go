package group

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eventcore-go/eventcore"
	"github.com/eventcore-go/eventcore/internal/leakcheck"
)

// hangLimit only keeps a broken test from hanging: no timing assertion.
const hangLimit = 60 * time.Second

func testDrivers() []string {
	if name := os.Getenv("EVENTCORE_DRIVER"); name != "" {
		return []string{name}
	}
	return eventcore.Drivers()
}

// forEachDriver runs fn once per driver, checking that nothing leaks.
func forEachDriver(t *testing.T, fn func(t *testing.T, driver eventcore.Option)) {
	for _, name := range testDrivers() {
		t.Run(name, func(t *testing.T) {
			checkNoLeaks(t)
			fn(t, eventcore.WithDriver(name))
		})
	}
}

// netReady opens the Go runtime's network poller once, before any
// baseline is taken: it stays open for the process's life.
var netReady sync.Once

// checkNoLeaks fails the test if it ends with more goroutines or
// descriptors than it started with (waiting for them to go, as closing
// may take a moment).
func checkNoLeaks(t *testing.T) {
	t.Helper()
	netReady.Do(func() {
		if ln, err := net.Listen("tcp", "127.0.0.1:0"); err == nil {
			ln.Close()
		}
	})
	fds, gs := openFDs(t), runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(hangLimit)
		for (openFDs(t) > fds || runtime.NumGoroutine() > gs) && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if n := openFDs(t); n > fds {
			t.Errorf("%d descriptors leaked", n-fds)
		}
		if n := runtime.NumGoroutine(); n > gs {
			buf := make([]byte, 1<<16)
			t.Errorf("%d goroutines leaked:\n%s", n-gs, buf[:runtime.Stack(buf, true)])
		}
	})
}

// openFDs counts this process's open descriptors (handles on Windows);
// -1 where it cannot (Wine), and then checkNoLeaks sees none leaked.
func openFDs(*testing.T) int { return leakcheck.OpenFDs() }

// waitFor waits until cond holds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(hangLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// endWithTest shuts g down when the test ends, however it ends.
func endWithTest(t *testing.T, g *Group) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), hangLimit)
		defer cancel()
		g.Shutdown(ctx)
	})
}

func shutdown(t *testing.T, g *Group) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hangLimit)
	defer cancel()
	if err := g.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}

var loopback = eventcore.MustParseAddr("127.0.0.1:0")

func TestLoopsSetupAndRun(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver eventcore.Option) {
		const n = 3
		var setups [n]atomic.Int32
		// Each loop's state, written only on its goroutine.
		var ticks [n]int
		g, err := New(WithLoops(n), WithLockOSThread(), WithDriverOptions(driver), WithSetup(func(l *Loop) error {
			setups[l.Index()].Add(1)
			return nil
		}))
		if err != nil {
			t.Fatal(err)
		}
		endWithTest(t, g)
		if g.Len() != n {
			t.Fatalf("Len %d", g.Len())
		}
		for i := range n {
			if setups[i].Load() != 1 {
				t.Errorf("loop %d set up %d times", i, setups[i].Load())
			}
			if g.Loop(i).Index() != i || g.Loop(i).Group() != g {
				t.Errorf("loop %d: index %d", i, g.Loop(i).Index())
			}
		}
		// A timer on every loop, armed from the loop, fires there.
		var fired atomic.Int32
		<-g.RunAll(func(l *Loop) {
			tm := l.Driver().Timers()
			id := tm.Create()
			tm.Set(id, time.Millisecond, 0)
			tm.Wait(id, func(eventcore.TimerID, bool) {
				ticks[l.Index()]++
				fired.Add(1)
			})
			tm.ReleaseRef(id)
		})
		waitFor(t, "the timers", func() bool { return fired.Load() == n })
		done := make(chan int, 1)
		g.Loop(1).Run(func() { done <- ticks[1] })
		if got := <-done; got != 1 {
			t.Errorf("loop 1 saw %d ticks", got)
		}
		shutdown(t, g)
		if err := g.Shutdown(context.Background()); err != nil {
			t.Errorf("second Shutdown: %v", err)
		}
		if _, err := g.ServeStream(loopback, Default, func(*Loop, eventcore.StreamSocket, eventcore.Addr) {}); err != ErrClosed {
			t.Errorf("ServeStream after Shutdown: %v", err)
		}
	})
}

func TestSetupFailure(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver eventcore.Option) {
		boom := errors.New("boom")
		g, err := New(WithLoops(3), WithDriverOptions(driver), WithSetup(func(l *Loop) error {
			if l.Index() == 1 {
				return boom
			}
			return nil
		}))
		if g != nil || !errors.Is(err, boom) {
			t.Fatalf("New: %v, %v", g, err)
		}
	})
}

// echoServer echoes on every connection, after recording the 8-byte id
// each client sends first, and releases a connection when its peer ends.
type echoServer struct {
	loops []*echoLoop // per loop, each used only on its loop's goroutine
}

type echoLoop struct {
	ids   []uint64
	conns map[eventcore.StreamSocket]*echoConn
}

type echoConn struct {
	buf [64]byte
	id  bool
}

func newEchoServer(n int) *echoServer {
	s := &echoServer{loops: make([]*echoLoop, n)}
	for i := range s.loops {
		s.loops[i] = &echoLoop{conns: map[eventcore.StreamSocket]*echoConn{}}
	}
	return s
}

func (s *echoServer) serve(l *Loop, conn eventcore.StreamSocket, _ eventcore.Addr) {
	st := s.loops[l.Index()]
	c := &echoConn{}
	st.conns[conn] = c
	so := l.Driver().Sockets()
	var onRead, onWrite eventcore.IOCallback
	closeConn := func(conn eventcore.StreamSocket) {
		delete(st.conns, conn)
		l.Release(conn)
	}
	onRead = func(conn eventcore.StreamSocket, status eventcore.IOStatus, n int) {
		if status != eventcore.IOStatusOK {
			closeConn(conn)
			return
		}
		if !c.id {
			c.id = true
			st.ids = append(st.ids, binary.BigEndian.Uint64(c.buf[:8]))
		}
		so.Write(conn, c.buf[:n], eventcore.IOModeAll, onWrite)
	}
	onWrite = func(conn eventcore.StreamSocket, status eventcore.IOStatus, _ int) {
		if status != eventcore.IOStatusOK {
			closeConn(conn)
			return
		}
		so.Read(conn, c.buf[:], eventcore.IOModeOnce, onRead)
	}
	so.Read(conn, c.buf[:8], eventcore.IOModeAll, onRead)
}

// ids collects the ids every loop recorded, per loop.
func (s *echoServer) ids(g *Group) [][]uint64 {
	out := make([][]uint64, g.Len())
	<-g.RunAll(func(l *Loop) { out[l.Index()] = append([]uint64(nil), s.loops[l.Index()].ids...) })
	return out
}

// dialEcho connects, sends id and reads it back.
func dialEcho(addr string, id uint64) (net.Conn, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	var b, back [8]byte
	binary.BigEndian.PutUint64(b[:], id)
	if _, err = c.Write(b[:]); err == nil {
		_, err = io.ReadFull(c, back[:])
	}
	if err == nil && back != b {
		err = errors.New("echo differs")
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func strategies() []Strategy {
	s := []Strategy{LeastConnections, RoundRobin}
	if kernelBalancesReusePort {
		s = append(s, ReusePort)
	}
	return s
}

func TestConnectStorm(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver eventcore.Option) {
		for _, strategy := range strategies() {
			t.Run(strategy.String(), func(t *testing.T) {
				const loops, conns, clients = 4, 400, 16
				g, err := New(WithLoops(loops), WithDriverOptions(driver))
				if err != nil {
					t.Fatal(err)
				}
				endWithTest(t, g)
				srv := newEchoServer(loops)
				addr, err := g.ServeStream(loopback, strategy, srv.serve)
				if err != nil {
					t.Fatal(err)
				}
				var next atomic.Uint64
				var wg sync.WaitGroup
				errs := make(chan error, clients)
				for range clients {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for id := next.Add(1); id <= conns; id = next.Add(1) {
							c, err := dialEcho(addr.String(), id)
							if err != nil {
								errs <- err
								return
							}
							c.Close()
						}
					}()
				}
				wg.Wait()
				close(errs)
				for err := range errs {
					t.Error(err)
				}
				waitFor(t, "the server to release every connection", func() bool {
					for i := range loops {
						if g.Loop(i).Connections() != 0 {
							return false
						}
					}
					return true
				})
				seen := map[uint64]int{}
				for i, ids := range srv.ids(g) {
					if len(ids) == 0 {
						t.Errorf("loop %d served no connection", i)
					}
					for _, id := range ids {
						if seen[id]++; seen[id] > 1 {
							t.Errorf("connection %d served twice", id)
						}
					}
				}
				if len(seen) != conns {
					t.Errorf("%d connections served, want %d", len(seen), conns)
				}
				shutdown(t, g)
			})
		}
	})
}

func TestServeStreamReusePortRefused(t *testing.T) {
	if kernelBalancesReusePort {
		t.Skip("the kernel balances SO_REUSEPORT here")
	}
	g, err := New(WithLoops(2))
	if err != nil {
		t.Fatal(err)
	}
	endWithTest(t, g)
	defer shutdown(t, g)
	if _, err := g.ServeStream(loopback, ReusePort, func(*Loop, eventcore.StreamSocket, eventcore.Addr) {}); !errors.Is(err, eventcore.ErrNotSupported) {
		t.Fatalf("ReusePort where the kernel does not balance: %v", err)
	}
}

// TestShutdownGraceful: connections open when Shutdown begins are closed
// by the loops' OnShutdown functions; Shutdown then returns nil.
func TestShutdownGraceful(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver eventcore.Option) {
		const loops, conns = 3, 12
		srv := newEchoServer(loops)
		g, err := New(WithLoops(loops), WithDriverOptions(driver), WithSetup(func(l *Loop) error {
			l.OnShutdown(func(time.Time) {
				st := srv.loops[l.Index()]
				for conn := range st.conns {
					delete(st.conns, conn)
					l.Release(conn)
				}
			})
			return nil
		}))
		if err != nil {
			t.Fatal(err)
		}
		endWithTest(t, g)
		addr, err := g.ServeStream(loopback, Default, srv.serve)
		if err != nil {
			t.Fatal(err)
		}
		var clients []net.Conn
		for id := range uint64(conns) {
			c, err := dialEcho(addr.String(), id)
			if err != nil {
				t.Fatal(err)
			}
			clients = append(clients, c)
		}
		shutdown(t, g)
		for i, c := range clients {
			c.SetReadDeadline(time.Now().Add(hangLimit))
			var b [1]byte
			if _, err := c.Read(b[:]); err == nil {
				t.Errorf("client %d: read data after the shutdown", i)
			}
			c.Close()
		}
		for i := range loops {
			if n := g.Loop(i).Connections(); n != 0 {
				t.Errorf("loop %d: %d connections after the shutdown", i, n)
			}
		}
		if _, err := net.Dial("tcp", addr.String()); err == nil {
			t.Error("still accepting after the shutdown")
		}
	})
}

// TestShutdownDeadline: the loops' code does not close its connections;
// at the deadline the group shuts them down (the pending reads complete,
// their callbacks release them) and closes those with nothing pending.
func TestShutdownDeadline(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver eventcore.Option) {
		const loops = 2
		var ended atomic.Int32
		g, err := New(WithLoops(loops), WithDriverOptions(driver))
		if err != nil {
			t.Fatal(err)
		}
		endWithTest(t, g)
		var idle atomic.Int32
		addr, err := g.ServeStream(loopback, LeastConnections, func(l *Loop, conn eventcore.StreamSocket, _ eventcore.Addr) {
			if idle.Add(1)%2 == 0 {
				return // nothing pending: the group must close it itself
			}
			buf := make([]byte, 16)
			l.Driver().Sockets().Read(conn, buf, eventcore.IOModeOnce, func(conn eventcore.StreamSocket, st eventcore.IOStatus, _ int) {
				if st == eventcore.IOStatusDisconnected {
					ended.Add(1)
				}
				l.Release(conn)
			})
		})
		if err != nil {
			t.Fatal(err)
		}
		var clients []net.Conn
		for range 6 {
			c, err := net.Dial("tcp", addr.String())
			if err != nil {
				t.Fatal(err)
			}
			clients = append(clients, c)
		}
		waitFor(t, "the connections to reach the loops", func() bool {
			return g.Loop(0).Connections()+g.Loop(1).Connections() == len(clients)
		})
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		err = g.Shutdown(ctx)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Shutdown past its deadline: %v", err)
		}
		if err != nil && strings.Contains(err.Error(), "handles open") {
			t.Errorf("handles left: %v", err)
		}
		if ended.Load() != 3 {
			t.Errorf("%d pending reads ended with IOStatusDisconnected, want 3", ended.Load())
		}
		for _, c := range clients {
			c.SetReadDeadline(time.Now().Add(hangLimit))
			var b [1]byte
			if _, err := c.Read(b[:]); err == nil {
				t.Error("read data from a connection closed at the deadline")
			}
			c.Close()
		}
	})
}

// TestShutdownReportsLeaks: a loop's own handle, left open, is reported.
func TestShutdownReportsLeaks(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver eventcore.Option) {
		g, err := New(WithLoops(2), WithDriverOptions(driver), WithSetup(func(l *Loop) error {
			if l.Index() == 1 {
				l.Driver().Events().Create()
			}
			return nil
		}))
		if err != nil {
			t.Fatal(err)
		}
		endWithTest(t, g)
		err = g.Shutdown(context.Background())
		if err == nil || !strings.Contains(err.Error(), "loop 1") || strings.Contains(err.Error(), "loop 0") {
			t.Fatalf("Shutdown: %v", err)
		}
	})
}

// TestShutdownFromSignalGoroutine: Shutdown called from a goroutine that
// waits for a signal, while a loop's callback starts another one.
func TestShutdownConcurrentCalls(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver eventcore.Option) {
		g, err := New(WithLoops(2), WithDriverOptions(driver))
		if err != nil {
			t.Fatal(err)
		}
		endWithTest(t, g)
		results := make(chan error, 3)
		g.Loop(1).Run(func() { go func() { results <- g.Shutdown(context.Background()) }() })
		for range 2 {
			go func() { results <- g.Shutdown(context.Background()) }()
		}
		for range 3 {
			if err := <-results; err != nil {
				t.Error(err)
			}
		}
	})
}

func TestServeDatagram(t *testing.T) {
	forEachDriver(t, func(t *testing.T, driver eventcore.Option) {
		const loops = 2
		var sockets atomic.Int32
		g, err := New(WithLoops(loops), WithDriverOptions(driver))
		if err != nil {
			t.Fatal(err)
		}
		endWithTest(t, g)
		addr, err := g.ServeDatagram(loopback, func(l *Loop, sock eventcore.DatagramSocket) {
			sockets.Add(1)
			s := l.Driver().Sockets()
			buf := make([]byte, 64)
			var onRecv, onSent eventcore.DatagramIOCallback
			onRecv = func(sock eventcore.DatagramSocket, st eventcore.IOStatus, n int, from eventcore.Addr) {
				if st == eventcore.IOStatusOK {
					s.Send(sock, buf[:n], eventcore.IOModeOnce, from, onSent)
				}
			}
			onSent = func(sock eventcore.DatagramSocket, _ eventcore.IOStatus, _ int, _ eventcore.Addr) {
				s.Receive(sock, buf, eventcore.IOModeOnce, onRecv)
			}
			s.Receive(sock, buf, eventcore.IOModeOnce, onRecv)
		})
		if err != nil {
			t.Fatal(err)
		}
		want := int32(1)
		if kernelBalancesReusePort {
			want = loops
		}
		if sockets.Load() != want {
			t.Errorf("%d sockets, want %d", sockets.Load(), want)
		}
		// The client is a driver of its own: Go's net cannot make UDP
		// sockets under Wine.
		d, err := eventcore.New(driver)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Dispose()
		s := d.Sockets()
		for i := range 8 {
			c, err := s.CreateDatagramSocket(loopback, addr, 0)
			if err != nil {
				t.Fatal(err)
			}
			msg := []byte{byte(i), 'x'}
			got := make([]byte, 8)
			n := -1
			s.Receive(c, got, eventcore.IOModeOnce, func(_ eventcore.DatagramSocket, st eventcore.IOStatus, k int, _ eventcore.Addr) {
				n = k
			})
			// Datagrams may be lost: send again until the echo comes.
			for deadline := time.Now().Add(hangLimit); n < 0; {
				if time.Now().After(deadline) {
					t.Fatal("no echo")
				}
				s.Send(c, msg, eventcore.IOModeOnce, eventcore.Addr{}, nil)
				d.Core().ProcessEvents(100 * time.Millisecond)
			}
			if string(got[:n]) != string(msg) {
				t.Errorf("echo %q, sent %q", got[:n], msg)
			}
			s.ReleaseRef(c)
		}
		shutdown(t, g)
	})
}

package eventcore

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// A callback that panics, the panic recovered around ProcessEvents (as a Go
// server recovers a handler's panic): the loop stays consistent, and the
// next ProcessEvents delivers what the panic interrupted, whatever kind of
// batch it was in.

type boom struct{}

// processRecovering runs ProcessEvents and returns the value of a panic
// that came out of it, nil if none.
func processRecovering(d *Driver, timeout time.Duration) (v any) {
	defer func() { v = recover() }()
	d.Core().ProcessEvents(timeout)
	return nil
}

// runRecovering processes events until cond holds, recovering every panic
// of a callback; it returns how many there were.
func runRecovering(t *testing.T, d *Driver, what string, cond func() bool) int {
	t.Helper()
	panics := 0
	deadline := time.Now().Add(hangLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s (%d panics recovered, %d waiters)", what, panics, d.Core().WaiterCount())
		}
		switch v := processRecovering(d, 10*time.Millisecond); v {
		case nil:
		case boom{}:
			panics++
		default:
			t.Fatalf("ProcessEvents panicked: %v", v)
		}
	}
	return panics
}

// panicOnce returns a function that panics with boom the first time it is
// called, and counts its calls in n.
func panicOnce(n *int) func() {
	return func() {
		if *n++; *n == 1 {
			panic(boom{})
		}
	}
}

func TestPanicKeepsQueuedFunctions(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *Driver) {
		c := d.Core()
		var calls [3]int
		c.RunInOwnerThread(func() { calls[0]++; panic(boom{}) })
		c.RunInOwnerThread(func() { calls[1]++ })
		c.RunInOwnerThread(func() { calls[2]++ })
		if v := processRecovering(d, 0); v != (boom{}) {
			t.Fatalf("ProcessEvents did not pass the callback's panic on: %v", v)
		}
		// Nothing is left to wait for but the two functions: the first
		// ProcessEvents after the panic runs them.
		if r := c.ProcessEvents(0); r != ExitOutOfWaiters || calls != [3]int{1, 1, 1} {
			t.Fatalf("after the panic: ProcessEvents = %v, functions ran %v times, want once each", r, calls)
		}
	})
}

// Close callbacks the loop posts itself run from ProcessEvents, never
// before Close returns, in order, and a panic in one keeps the rest.
func TestPanicKeepsPostedCallbacks(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *Driver) {
		var calls []string
		d.Pipes().Close(Pipe{}, func(_ Pipe, st CloseStatus) {
			calls = append(calls, "pipe "+st.String())
			panic(boom{})
		})
		d.Files().Close(File{}, func(_ File, st CloseStatus) { calls = append(calls, "file "+st.String()) })
		d.Pipes().Close(Pipe{}, func(_ Pipe, st CloseStatus) { calls = append(calls, "pipe "+st.String()) })
		if len(calls) != 0 {
			t.Fatalf("Close ran its callback before it returned: %v", calls)
		}
		if v := processRecovering(d, 0); v != (boom{}) {
			t.Fatalf("ProcessEvents did not pass the callback's panic on: %v", v)
		}
		if r := d.Core().ProcessEvents(0); r != ExitOutOfWaiters {
			t.Fatalf("after the panic: ProcessEvents = %v", r)
		}
		inv := CloseStatusInvalidHandle.String()
		if want := []string{"pipe " + inv, "file " + inv, "pipe " + inv}; !slices.Equal(calls, want) {
			t.Fatalf("callbacks ran as %v, want %v", calls, want)
		}
	})
}

// TriggerAll: one waiter's panic does not lose the others.
func TestPanicKeepsEventWaiters(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *Driver) {
		evs := d.Events()
		ev := evs.Create()
		var calls [3]int
		for i := range calls {
			evs.Wait(ev, func(EventID) {
				if calls[i]++; i == 0 {
					panic(boom{})
				}
			})
		}
		evs.Trigger(ev, true)
		if v := processRecovering(d, 0); v != (boom{}) {
			t.Fatalf("ProcessEvents did not pass the callback's panic on: %v", v)
		}
		d.Core().ProcessEvents(0)
		if calls != [3]int{1, 1, 1} || d.Core().WaiterCount() != 0 {
			t.Fatalf("waiters called %v times, want once each; WaiterCount %d", calls, d.Core().WaiterCount())
		}
		evs.ReleaseRef(ev)
	})
}

// Two timers due together: the first one's panic neither loses the second
// nor leaks the timer its wait held (released right after Wait).
func TestPanicInTimerCallback(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *Driver) {
		tm := d.Timers()
		calls := 0
		for range 2 {
			id := tm.Create()
			tm.Set(id, 0, 0)
			tm.Wait(id, func(TimerID, bool) { panicOnce(&calls)() })
			tm.ReleaseRef(id)
		}
		// A stopped timer calls its wait at once, in Stop.
		stopped := tm.Create()
		tm.Set(stopped, time.Hour, 0)
		tm.Wait(stopped, func(_ TimerID, fired bool) { panic(boom{}) })
		func() {
			defer func() { recover() }()
			tm.Stop(stopped)
		}()
		tm.ReleaseRef(stopped)
		if panics := runRecovering(t, d, "the second timer", func() bool { return calls == 2 }); panics != 1 {
			t.Fatalf("%d panics, want 1", panics)
		}
		// testOn's Dispose reports the timers if a wait's reference leaked.
	})
}

// Two sockets become readable together: the panic in the first one's read
// callback does not lose the second one's (an edge-triggered poller does
// not report it again).
func TestPanicKeepsReadyBatch(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *Driver) {
		s := d.Sockets()
		var cl, sv [2]StreamSocket
		for i := range cl {
			cl[i], sv[i] = streamPair(t, d, MustParseAddr("127.0.0.1:0"))
		}
		calls := 0
		buf := make([]byte, 4)
		for _, c := range sv {
			s.Read(c, buf, IOModeOnce, func(StreamSocket, IOStatus, int) { panicOnce(&calls)() })
		}
		for _, c := range cl {
			s.Write(c, []byte("x"), IOModeAll, func(StreamSocket, IOStatus, int) {})
		}
		if panics := runRecovering(t, d, "the second read", func() bool { return calls == 2 }); panics != 1 {
			t.Fatalf("%d panics, want 1", panics)
		}
		for i := range cl {
			s.ReleaseRef(cl[i])
			s.ReleaseRef(sv[i])
		}
	})
}

// A panic in an accept callback does not strand the connections queued
// behind it.
func TestPanicInAcceptCallback(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *Driver) {
		s := d.Sockets()
		calls := 0
		var conns []StreamSocket
		lst, err := s.ListenStream(MustParseAddr("127.0.0.1:0"), ListenDefaults, func(_ StreamListener, c StreamSocket, _ Addr) {
			conns = append(conns, c)
			panicOnce(&calls)()
		})
		if err != nil {
			t.Fatal(err)
		}
		addr, _ := s.LocalAddress(lst)
		connected := 0
		var clients [3]StreamSocket
		for i := range clients {
			clients[i] = s.ConnectStream(addr, Addr{}, func(StreamSocket, ConnectStatus) { connected++ })
		}
		runRecovering(t, d, "three accepted connections", func() bool { return calls == 3 && connected == 3 })
		for _, c := range append(conns, clients[:]...) {
			s.ReleaseRef(c)
		}
		s.ReleaseRef(lst)
	})
}

// One exit, two waits: the first one's panic does not lose the second
// (run by TestPanicKeepsExitWaiters of each OS).
func testPanicKeepsExitWaiters(t *testing.T, d *Driver) {
	pr := d.Processes()
	waiters := d.Core().WaiterCount()
	args, env := sleeper()
	proc, err := pr.Spawn(args, RedirectNone, RedirectNone, RedirectNone, env, 0, "")
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	pr.Wait(proc.ID, func(ProcessID, int) { panicOnce(&calls)() })
	pr.Wait(proc.ID, func(ProcessID, int) { panicOnce(&calls)() })
	if err := pr.Kill(proc.ID, os.Kill); err != nil {
		t.Fatal(err)
	}
	runRecovering(t, d, "both exit waits", func() bool { return calls == 2 })
	if n := d.Core().WaiterCount(); n != waiters {
		t.Fatalf("WaiterCount = %d after both waits ran, want %d", n, waiters)
	}
	pr.ReleaseRef(proc.ID)
}

// Two changes reported together: the first one's panic does not lose the
// second, and the watcher goes on watching.
func TestPanicKeepsWatcherChanges(t *testing.T) {
	forEachDriverAnd(t, watcherStandIns, func(t *testing.T, d *Driver) {
		dir := tempDir(t)
		seen := map[string]int{}
		calls := 0
		w, err := d.Watchers().WatchDirectory(dir, false, func(_ WatcherID, c FileChange) {
			if c.Kind == FileChangeAdded {
				seen[c.Name]++
				panicOnce(&calls)()
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"a", "b"} {
			if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		runRecovering(t, d, "both files reported", func() bool { return seen["a"] > 0 && seen["b"] > 0 })
		if err := os.WriteFile(filepath.Join(dir, "c"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		runRecovering(t, d, "a file made after the panic", func() bool { return seen["c"] > 0 })
		d.Watchers().ReleaseRef(w)
	})
}

// Two listeners of a signal: the first one's panic does not lose the
// second. The signal is queued as os/signal's forwarder queues it.
func TestPanicKeepsSignalListeners(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *Driver) {
		sigs := d.Signals()
		calls := 0
		var ids [2]SignalID
		for i := range ids {
			id, err := sigs.Listen(quietSignal, func(SignalID, SignalStatus, os.Signal) { panicOnce(&calls)() })
			if err != nil {
				t.Fatal(err)
			}
			ids[i] = id
		}
		d.l.xq.push(crossItem{op: crossSignal, x: quietSignal})
		if v := processRecovering(d, 0); v != (boom{}) {
			t.Fatalf("ProcessEvents did not pass the callback's panic on: %v", v)
		}
		d.Core().ProcessEvents(0)
		if calls != 2 {
			t.Fatalf("listeners called %d times in all, want 2", calls)
		}
		for _, id := range ids {
			sigs.ReleaseRef(id)
		}
	})
}

// A Close waiting for a read goes on when the read's callback panics.
func TestPanicInFileCallbackKeepsClose(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *Driver) {
		fs := d.Files()
		path := tempFile(t, []byte("data"))
		f, err := fs.Open(path, FileRead)
		if err != nil {
			t.Fatal(err)
		}
		read, closed := 0, false
		fs.Read(f, 0, make([]byte, 4), IOModeAll, func(File, IOStatus, int) { panicOnce(&read)() })
		fs.Close(f, func(File, CloseStatus) { closed = true })
		runRecovering(t, d, "the close", func() bool { return closed })
		if read != 1 || d.Core().WaiterCount() != 0 {
			t.Fatalf("read callback ran %d times, WaiterCount %d", read, d.Core().WaiterCount())
		}
		fs.ReleaseRef(f)
	})
}

// A lookup whose callback panics is freed all the same (testOn's Dispose
// reports it otherwise).
func TestPanicInDNSCallback(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *Driver) {
		calls := 0
		d.DNS().LookupHost("127.0.0.1", func(DNSLookupID, DNSStatus, []Addr) { panicOnce(&calls)() })
		runRecovering(t, d, "the lookup", func() bool { return calls == 1 })
	})
}

// A panic recovered inside a callback, around a nested ProcessEvents,
// leaves the callback nesting depth as it was: operations that complete
// at once keep completing at once.
func TestPanicLeavesNestingDepth(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *Driver) {
		c := d.Core()
		depthIn, depthAfter := -1, -1
		c.RunInOwnerThread(func() {
			depthIn = d.l.depth
			func() {
				defer func() { recover() }()
				c.ProcessEvents(0)
			}()
			depthAfter = d.l.depth
		})
		c.RunInOwnerThread(func() { panic(boom{}) })
		c.ProcessEvents(0)
		if depthIn != 1 || depthAfter != 1 {
			t.Fatalf("depth in the callback %d, after the recovered panic %d, want 1", depthIn, depthAfter)
		}
		if d.l.depth != 0 || d.l.running != 0 {
			t.Fatalf("after ProcessEvents: depth %d, running %d", d.l.depth, d.l.running)
		}
	})
}

package eventcore

import (
	"context"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"syscall"
	"testing"
	"time"
)

// Hostile callers: every method of the API that takes a handle is called
// with the zero handle, a stale one, a random one, one of another driver,
// and after Dispose. None may panic, and none may touch a live resource.

// apis returns every part of d's API.
func apis(d *Driver) []any {
	return []any{d.Core(), d.Timers(), d.Events(), d.Signals(), d.Sockets(), d.DNS(), d.Files(), d.Watchers(), d.Pipes(), d.Processes()}
}

// pendingResolver never answers, so that a lookup through it stays live
// (until cancelled) however long a test takes; one that completed on its
// own would look like a resource changed by a bad handle.
var pendingResolver = &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}}

// liveSet holds one live handle of every kind; d must use pendingResolver.
type liveSet map[reflect.Type]reflect.Value

func makeLiveSet(t *testing.T, d *Driver) liveSet {
	t.Helper()
	s := d.Sockets()
	dir := tempDir(t)
	c, srv := streamPair(t, d, MustParseAddr("127.0.0.1:0"))
	s.ReleaseRef(srv)
	lst, err := s.ListenStream(MustParseAddr("127.0.0.1:0"), ListenDefaults, func(StreamListener, StreamSocket, Addr) {})
	if err != nil {
		t.Fatal(err)
	}
	dg := newDgram(t, d, MustParseAddr("127.0.0.1:0"), Addr{})
	tm := d.Timers().Create()
	d.Timers().Set(tm, time.Hour, 0)
	ev := d.Events().Create()
	ew := d.Events().Wait(ev, func(EventID) {})
	sig, err := d.Signals().Listen(quietSignal, func(SignalID, SignalStatus, os.Signal) {})
	if err != nil {
		t.Fatal(err)
	}
	f, err := d.Files().Open(filepath.Join(dir, "f"), FileCreate)
	if err != nil {
		t.Fatal(err)
	}
	w, err := d.Watchers().WatchDirectory(dir, false, func(WatcherID, FileChange) {})
	if err != nil {
		t.Fatal(err)
	}
	// The child's stdin is the live pipe: Windows cannot adopt an
	// anonymous one.
	args, env := sleeper()
	proc, err := d.Processes().Spawn(args, RedirectPipe, RedirectNone, RedirectNone, env, 0, "")
	if err != nil {
		t.Fatal(err)
	}
	r := proc.Stdin
	pw := d.Processes().Wait(proc.ID, func(ProcessID, int) {})
	lk := d.DNS().LookupHost("eventcore-hostile.invalid", func(DNSLookupID, DNSStatus, []Addr) {})
	set := liveSet{}
	for _, h := range []any{c, lst, dg, tm, ev, ew, sig, f, r, w, proc.ID, pw, lk} {
		set[reflect.TypeOf(h)] = reflect.ValueOf(h)
	}
	return set
}

// staleSet holds a released handle of every kind.
func makeStaleSet(t *testing.T, d *Driver) liveSet {
	t.Helper()
	live := makeLiveSet(t, d)
	releaseAll(t, d, live)
	return live
}

func releaseAll(t *testing.T, d *Driver, set liveSet) {
	t.Helper()
	for typ, v := range set {
		switch h := v.Interface().(type) {
		case StreamSocket, StreamListener, DatagramSocket:
			d.Sockets().ReleaseRef(h.(SocketHandle))
		case TimerID:
			d.Timers().ReleaseRef(h)
		case EventID:
			d.Events().ReleaseRef(h)
		case SignalID:
			d.Signals().ReleaseRef(h)
		case File:
			d.Files().ReleaseRef(h)
		case Pipe:
			d.Pipes().ReleaseRef(h)
		case WatcherID:
			d.Watchers().ReleaseRef(h)
		case ProcessID:
			d.Processes().Kill(h, syscall.SIGKILL)
			d.Processes().ReleaseRef(h)
		case DNSLookupID:
			d.DNS().CancelLookup(h)
		case EventWaitID, ProcessWaitID:
			// freed with their event or process
		default:
			t.Fatalf("no release for %v", typ)
		}
	}
}

var handleTypes = []reflect.Type{
	reflect.TypeFor[StreamSocket](), reflect.TypeFor[StreamListener](), reflect.TypeFor[DatagramSocket](),
	reflect.TypeFor[TimerID](), reflect.TypeFor[EventID](), reflect.TypeFor[EventWaitID](), reflect.TypeFor[SignalID](),
	reflect.TypeFor[File](), reflect.TypeFor[Pipe](), reflect.TypeFor[WatcherID](), reflect.TypeFor[ProcessID](),
	reflect.TypeFor[ProcessWaitID](), reflect.TypeFor[DNSLookupID](),
}

// callWithHandles calls every method of every API of d that takes a handle,
// with handles from pick, and reports the callbacks' statuses through
// onCallback. It fails t on a panic.
func callWithHandles(t *testing.T, d *Driver, pick func(reflect.Type) reflect.Value, onCallback func(method string, args []reflect.Value)) int {
	t.Helper()
	calls := 0
	for _, api := range apis(d) {
		v := reflect.ValueOf(api)
		for i := 0; i < v.NumMethod(); i++ {
			m, name := v.Method(i), v.Type().Method(i).Name
			mt := m.Type()
			args := make([]reflect.Value, mt.NumIn())
			takesHandle := false
			for j := range args {
				pt := mt.In(j)
				switch {
				case pt == reflect.TypeFor[SocketHandle]():
					args[j] = pick(reflect.TypeFor[StreamSocket]())
					takesHandle = true
				case pt.Kind() == reflect.Struct && pt.PkgPath() == reflect.TypeFor[File]().PkgPath() && isHandleType(pt):
					args[j] = pick(pt)
					takesHandle = true
				case pt.Kind() == reflect.Func:
					fname := v.Type().String() + "." + name
					args[j] = reflect.MakeFunc(pt, func(in []reflect.Value) []reflect.Value {
						onCallback(fname, in)
						return nil
					})
				case pt == reflect.TypeFor[[]byte]():
					args[j] = reflect.ValueOf(make([]byte, 16))
				case pt == reflect.TypeFor[os.Signal]():
					args[j] = reflect.ValueOf(os.Signal(syscall.SIGKILL)) // the worst there is
				default:
					args[j] = reflect.Zero(pt)
				}
			}
			if !takesHandle {
				continue
			}
			func() {
				defer func() {
					if p := recover(); p != nil {
						t.Errorf("%s.%s panicked: %v", v.Type(), name, p)
					}
				}()
				calls++
				m.Call(args)
			}()
		}
	}
	return calls
}

func isHandleType(t reflect.Type) bool {
	for _, h := range handleTypes {
		if t == h {
			return true
		}
	}
	return false
}

// refsOf returns the reference counts of the handles in set, by type.
func refsOf(d *Driver, set liveSet) map[reflect.Type]int32 {
	out := map[reflect.Type]int32{}
	for typ, v := range set {
		if hd := d.l.header(v.Interface().(Handle).raw()); hd != nil {
			out[typ] = hd.refs
		} else {
			out[typ] = -1
		}
	}
	return out
}

func TestHostileCallers(t *testing.T) {
	checkNoFDLeak(t)
	for _, name := range testDrivers(t) {
		t.Run(name, func(t *testing.T) {
			a, b := newTestDriver(t, name, WithResolver(pendingResolver)), newTestDriver(t, name, WithResolver(pendingResolver))
			liveA, liveB := makeLiveSet(t, a), makeLiveSet(t, b)
			staleA := makeStaleSet(t, a)
			refsBefore := refsOf(a, liveA)

			// Callbacks may report the misuse; a live resource's callback
			// must not run.
			bad := func(method string, args []reflect.Value) {
				for _, arg := range args {
					if st, ok := arg.Interface().(IOStatus); ok && st != IOStatusInvalidHandle && st != IOStatusBusy {
						t.Errorf("%s called back with %v for a bad handle", method, st)
					}
				}
			}
			pickers := map[string]func(reflect.Type) reflect.Value{
				"zero":    reflect.Zero,
				"stale":   func(typ reflect.Type) reflect.Value { return staleA[typ] },
				"foreign": func(typ reflect.Type) reflect.Value { return liveB[typ] },
				"random":  randomHandle,
			}
			methods := 0
			for _, pick := range pickers {
				for range 3 {
					if methods = callWithHandles(t, a, pick, bad); methods < 60 {
						t.Fatalf("only %d methods take a handle?", methods)
					}
				}
				runFor(a, 10*time.Millisecond)
			}
			t.Logf("%d handle-taking methods called with zero, stale, foreign and random handles", methods)
			if after := refsOf(a, liveA); !reflect.DeepEqual(after, refsBefore) {
				t.Errorf("bad handles changed live resources: refs %v, were %v", after, refsBefore)
			}
			pr := a.Processes()
			if pr.HasExited(liveA[reflect.TypeFor[ProcessID]()].Interface().(ProcessID)) {
				t.Error("a live process was killed through a bad handle")
			}

			releaseAll(t, a, liveA)
			releaseAll(t, b, liveB)
			runFor(a, 10*time.Millisecond)
			a.Dispose()
			b.Dispose()
			// After Dispose, even handles that were valid are refused.
			callWithHandles(t, a, func(typ reflect.Type) reflect.Value { return liveA[typ] }, func(string, []reflect.Value) {})
			checkNoDriverGoroutines(t)
		})
	}
}

// randomHandle returns a handle of type typ with random bits, of its own
// kind or not.
func randomHandle(typ reflect.Type) reflect.Value {
	h := handle(rand.Uint64())
	if rand.IntN(2) == 0 {
		h = makeHandle(kind(rand.IntN(int(numKinds))), uint32(rand.IntN(64)), rand.Uint64())
	}
	v := reflect.New(typ)
	*(*handle)(v.UnsafePointer()) = h
	return v.Elem()
}

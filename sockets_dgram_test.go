package eventcore

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

type dgramResult struct {
	done   bool
	status IOStatus
	n      int
	addr   Addr
}

func (r *dgramResult) cb(_ DatagramSocket, st IOStatus, n int, a Addr) {
	*r = dgramResult{true, st, n, a}
}

func newDgram(t *testing.T, d *Driver, bind, target Addr) DatagramSocket {
	t.Helper()
	s, err := d.Sockets().CreateDatagramSocket(bind, target, 0)
	if err != nil {
		t.Fatalf("CreateDatagramSocket(%v, %v): %v", bind, target, err)
	}
	return s
}

func TestDatagramUnconnected(t *testing.T) {
	for _, bind := range []string{"127.0.0.1:0", "[::1]:0"} {
		t.Run(bind, func(t *testing.T) {
			forEachDriver(t, func(t *testing.T, d *Driver) {
				s := d.Sockets()
				a := newDgram(t, d, MustParseAddr(bind), Addr{})
				b := newDgram(t, d, MustParseAddr(bind), Addr{})
				aAddr, _ := s.LocalAddress(a)
				bAddr, _ := s.LocalAddress(b)

				buf := make([]byte, 64)
				var r, w dgramResult
				s.Receive(b, buf, IOModeImmediate, r.cb)
				if !r.done || r.status != IOStatusWouldBlock {
					t.Fatalf("immediate receive on an empty socket: %+v", r)
				}
				r = dgramResult{}
				s.Receive(b, buf, IOModeOnce, r.cb)
				s.Send(a, []byte("ping"), IOModeOnce, bAddr, w.cb)
				runUntil(t, d, "datagram", func() bool { return r.done && w.done })
				if w.status != IOStatusOK || w.n != 4 || w.addr != bAddr {
					t.Fatalf("send: %+v", w)
				}
				if r.status != IOStatusOK || string(buf[:r.n]) != "ping" || r.addr != aAddr {
					t.Fatalf("receive: %+v %q, want from %v", r, buf[:r.n], aAddr)
				}
				// Reply to the sender's address as reported.
				from := r.addr
				r, w = dgramResult{}, dgramResult{}
				s.Receive(a, buf, IOModeOnce, r.cb)
				s.Send(b, []byte("pong"), IOModeOnce, from, w.cb)
				runUntil(t, d, "reply", func() bool { return r.done })
				if string(buf[:r.n]) != "pong" || r.addr != bAddr {
					t.Fatalf("reply: %+v %q", r, buf[:r.n])
				}
				s.ReleaseRef(a)
				s.ReleaseRef(b)
			})
		})
	}
}

func TestDatagramConnected(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *Driver) {
		s := d.Sockets()
		b := newDgram(t, d, MustParseAddr("127.0.0.1:0"), Addr{})
		bAddr, _ := s.LocalAddress(b)
		a := newDgram(t, d, Addr{}, bAddr) // connected, bound by the kernel
		aAddr, _ := s.LocalAddress(a)
		if peer, err := s.RemoteAddress(a); err != nil || peer != bAddr {
			t.Fatalf("connected socket's peer: %v %v", peer, err)
		}
		buf := make([]byte, 16)
		var r, w dgramResult
		s.Receive(b, buf, IOModeOnce, r.cb)
		s.Send(a, []byte("to target"), IOModeOnce, Addr{}, w.cb)
		runUntil(t, d, "datagram", func() bool { return r.done && w.done })
		if w.status != IOStatusOK || r.status != IOStatusOK || string(buf[:r.n]) != "to target" || r.addr != aAddr {
			t.Fatalf("send %+v receive %+v %q", w, r, buf[:r.n])
		}
		// Dissolve the association: a send with no address fails.
		if err := s.SetTargetAddress(a, Addr{}); err != nil {
			t.Fatal(err)
		}
		w = dgramResult{}
		s.Send(a, []byte("x"), IOModeOnce, Addr{}, w.cb)
		if !w.done || w.status != IOStatusError || !isAny(d.LastError(a), errNoTarget) {
			t.Fatalf("send without a target: %+v, %v", w, d.LastError(a))
		}
		if err := s.SetTargetAddress(a, bAddr); err != nil {
			t.Fatal(err)
		}
		r, w = dgramResult{}, dgramResult{}
		s.Receive(b, buf, IOModeOnce, r.cb)
		s.Send(a, []byte("again"), IOModeOnce, Addr{}, w.cb)
		runUntil(t, d, "datagram after SetTargetAddress", func() bool { return r.done })
		if string(buf[:r.n]) != "again" {
			t.Fatalf("got %q", buf[:r.n])
		}
		s.ReleaseRef(a)
		s.ReleaseRef(b)
	})
}

func TestDatagramTruncationAndEmpty(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *Driver) {
		s := d.Sockets()
		a := newDgram(t, d, MustParseAddr("127.0.0.1:0"), Addr{})
		bAddr := MustParseAddr("127.0.0.1:0")
		b := newDgram(t, d, bAddr, Addr{})
		bAddr, _ = s.LocalAddress(b)
		var w dgramResult
		s.Send(a, []byte("0123456789"), IOModeOnce, bAddr, w.cb)
		s.Send(a, nil, IOModeOnce, bAddr, w.cb) // an empty datagram is a datagram
		buf := make([]byte, 4)
		var r dgramResult
		s.Receive(b, buf, IOModeOnce, r.cb)
		runUntil(t, d, "long datagram", func() bool { return r.done })
		if r.status != IOStatusTruncated || r.n != 4 || string(buf) != "0123" {
			t.Fatalf("truncated receive: %+v %q", r, buf)
		}
		r = dgramResult{}
		s.Receive(b, buf, IOModeOnce, r.cb)
		runUntil(t, d, "empty datagram", func() bool { return r.done })
		if r.status != IOStatusOK || r.n != 0 {
			t.Fatalf("empty datagram: %+v", r)
		}
		s.ReleaseRef(a)
		s.ReleaseRef(b)
	})
}

func TestDatagramCancelReceiveAndBusy(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *Driver) {
		s := d.Sockets()
		a := newDgram(t, d, MustParseAddr("127.0.0.1:0"), Addr{})
		b := newDgram(t, d, MustParseAddr("127.0.0.1:0"), Addr{})
		bAddr, _ := s.LocalAddress(b)
		buf := make([]byte, 8)
		s.Receive(b, buf, IOModeOnce, func(DatagramSocket, IOStatus, int, Addr) { t.Error("cancelled receive called") })
		var busy dgramResult
		s.Receive(b, buf, IOModeOnce, busy.cb)
		if busy.status != IOStatusBusy {
			t.Fatalf("second receive: %+v", busy)
		}
		s.CancelReceive(b)
		if d.Core().WaiterCount() != 0 {
			t.Fatal("cancelled receive still counted")
		}
		var w dgramResult
		s.Send(a, []byte("kept"), IOModeOnce, bAddr, w.cb)
		runFor(d, 20*time.Millisecond)
		var r dgramResult
		s.Receive(b, buf, IOModeOnce, r.cb)
		runUntil(t, d, "receive", func() bool { return r.done })
		if string(buf[:r.n]) != "kept" {
			t.Fatalf("datagram after a cancelled receive: %q", buf[:r.n])
		}
		s.CancelSend(a) // nothing pending: harmless
		s.ReleaseRef(a)
		s.ReleaseRef(b)
	})
}

func TestDatagramZeroLengthReceiveWaits(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *Driver) {
		s := d.Sockets()
		a := newDgram(t, d, MustParseAddr("127.0.0.1:0"), Addr{})
		b := newDgram(t, d, MustParseAddr("127.0.0.1:0"), Addr{})
		bAddr, _ := s.LocalAddress(b)
		var wait dgramResult
		s.Receive(b, nil, IOModeOnce, wait.cb)
		runFor(d, 20*time.Millisecond)
		if wait.done {
			t.Fatal("zero-length receive completed with nothing queued")
		}
		var w dgramResult
		s.Send(a, []byte("data"), IOModeOnce, bAddr, w.cb)
		runUntil(t, d, "readiness", func() bool { return wait.done })
		buf := make([]byte, 8)
		var r dgramResult
		s.Receive(b, buf, IOModeImmediate, r.cb)
		if r.status != IOStatusOK || string(buf[:r.n]) != "data" {
			t.Fatalf("the datagram was consumed by the zero-length receive: %+v", r)
		}
		s.ReleaseRef(a)
		s.ReleaseRef(b)
	})
}

func TestDatagramOptions(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *Driver) {
		s := d.Sockets()
		reuse := DatagramReuseAddress
		if haveReusePort {
			reuse |= DatagramReusePort
		} else if _, err := s.CreateDatagramSocket(MustParseAddr("127.0.0.1:0"), Addr{}, DatagramReusePort); !errors.Is(err, ErrNotSupported) {
			t.Errorf("DatagramReusePort where the OS has no SO_REUSEPORT: %v", err)
		}
		a, err := s.CreateDatagramSocket(MustParseAddr("127.0.0.1:0"), Addr{}, reuse|DatagramBroadcast)
		if err != nil {
			t.Fatal(err)
		}
		get := func(o boolOpt) int { return sockOpt(t, d, a, o) }
		if get(optReuseAddress) == 0 || get(optBroadcast) == 0 {
			t.Error("create options not applied")
		}
		addr, _ := s.LocalAddress(a)
		b, err := s.CreateDatagramSocket(addr, Addr{}, reuse)
		if err != nil {
			t.Fatalf("second socket on a reused address: %v", err)
		}
		if err := s.SetBroadcast(a, false); err != nil || get(optBroadcast) != 0 {
			t.Errorf("SetBroadcast(false): %v", err)
		}
		if err := s.SetOption(a, SocketOptionMulticastLoopback, false); err != nil || get(optMcastLoop4) != 0 {
			t.Errorf("multicast loopback off: %v", err)
		}
		if err := s.SetOption(a, SocketOptionNoDelay, true); !errors.Is(err, ErrNotSupported) {
			t.Errorf("stream option on a datagram socket: %v", err)
		}
		if err := s.JoinMulticastGroup(a, MustParseAddr("127.0.0.1:0"), 0); !errors.Is(err, ErrInvalidAddress) {
			t.Errorf("joining a unicast address: %v", err)
		}
		s.ReleaseRef(b)
		s.ReleaseRef(a)
	})
}

// The multicast datagrams of this test never leave the host: they are sent
// on the loopback interface with a time-to-live of 0.
func TestDatagramMulticastLoopback(t *testing.T) {
	lo := loopbackInterface(t)
	forEachDriver(t, func(t *testing.T, d *Driver) {
		s := d.Sockets()
		group := MustParseAddr("239.255.77.77:0")
		member, err := s.CreateDatagramSocket(MustParseAddr("0.0.0.0:0"), Addr{}, DatagramReuseAddress)
		if err != nil {
			t.Fatal(err)
		}
		port := mustLocal(t, s, member).Port()
		if err := s.JoinMulticastGroup(member, group, uint32(lo.Index)); err != nil {
			t.Fatalf("join: %v", err)
		}
		sender := newDgram(t, d, MustParseAddr("127.0.0.1:0"), Addr{})
		for _, err := range []error{
			s.SetMulticastInterface(sender, uint32(lo.Index)),
			s.SetMulticastTTL(sender, 0),
			s.SetOption(sender, SocketOptionMulticastLoopback, true),
		} {
			if err != nil {
				t.Fatal(err)
			}
		}
		to := AddrFromAddrPort(netipAddrPort4(group.AddrPort().Addr().As4(), port))
		buf := make([]byte, 16)
		var r, w dgramResult
		s.Receive(member, buf, IOModeOnce, r.cb)
		s.Send(sender, []byte("to the group"), IOModeOnce, to, w.cb)
		runUntil(t, d, "multicast datagram", func() bool { return r.done })
		if r.status != IOStatusOK || string(buf[:r.n]) != "to the group" {
			t.Fatalf("multicast receive: %+v %q", r, buf[:r.n])
		}
		if err := s.LeaveMulticastGroup(member, group, uint32(lo.Index)); err != nil {
			t.Fatalf("leave: %v", err)
		}
		s.ReleaseRef(sender)
		s.ReleaseRef(member)
	})
}

func mustLocal(t *testing.T, s Sockets, h SocketHandle) Addr {
	t.Helper()
	a, err := s.LocalAddress(h)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestDatagramAdopt(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *Driver) {
		s := d.Sockets()
		fd := rawSocket(t, sockDgram)
		if err := rawBindLoopback(fd); err != nil {
			t.Fatal(err)
		}
		sock, err := s.AdoptDatagramSocket(fd)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.AdoptDatagramSocket(fd); !errors.Is(err, ErrAlreadyRegistered) {
			t.Fatalf("second adopt: %v", err)
		}
		addr := mustLocal(t, s, sock)
		other := newDgram(t, d, MustParseAddr("127.0.0.1:0"), Addr{})
		buf := make([]byte, 8)
		var r, w dgramResult
		s.Receive(sock, buf, IOModeOnce, r.cb)
		s.Send(other, []byte("hi"), IOModeOnce, addr, w.cb)
		runUntil(t, d, "datagram on the adopted socket", func() bool { return r.done })
		if string(buf[:r.n]) != "hi" {
			t.Fatalf("got %q", buf[:r.n])
		}
		s.ReleaseRef(other)
		s.ReleaseRef(sock)
	})
}

func TestUnixStream(t *testing.T) {
	dir := tempDir(t)
	addrs := []Addr{UnixAddr(filepath.Join(dir, "stream.sock"))}
	if abstractUnixPaths {
		addrs = append(addrs, UnixAddr("@eventcore-test-"+filepath.Base(dir)))
	}
	for i, a := range addrs {
		forEachDriver(t, func(t *testing.T, d *Driver) {
			s := d.Sockets()
			if lst, err := s.ListenStream(a, 0, nil); unixUnsupported(t, err) {
				return
			} else if err == nil {
				s.ReleaseRef(lst)
			}
			c, srv := streamPair(t, d, a)
			msg := []byte("over a unix socket")
			buf := make([]byte, len(msg))
			var w, r ioResult
			s.Read(srv, buf, IOModeAll, r.cb)
			s.Write(c, msg, IOModeAll, w.cb)
			runUntil(t, d, "exchange", func() bool { return r.done })
			if string(buf) != string(msg) {
				t.Fatalf("got %q", buf)
			}
			if la, _ := s.LocalAddress(srv); !la.IsUnix() || la.Path() != a.Path() {
				t.Errorf("server's local address %v, want %v", la, a)
			}
			if err := s.SetTCPNoDelay(c, true); !errors.Is(err, ErrNotSupported) {
				t.Errorf("TCP option on a Unix socket: %v", err)
			}
			s.ReleaseRef(c)
			s.ReleaseRef(srv)
			if i == 0 {
				if _, err := os.Stat(a.Path()); !os.IsNotExist(err) {
					t.Errorf("socket file left behind by the listener: %v", err)
				}
			}
		})
	}
}

func TestUnixConnectMissing(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *Driver) {
		status := ConnectStatus(255)
		sock := d.Sockets().ConnectStream(UnixAddr(filepath.Join(tempDir(t), "nobody")), Addr{},
			func(_ StreamSocket, st ConnectStatus) { status = st })
		runUntil(t, d, "refusal", func() bool { return status != 255 })
		if status == ConnectStatusSocketCreateFailure && unixUnsupported(t, d.LastError(sock)) {
			d.Sockets().ReleaseRef(sock)
			return
		}
		if status != ConnectStatusRefused || !isAny(d.LastError(sock), errNoSocketFile) {
			t.Fatalf("connect to a missing socket file: %v, %v", status, d.LastError(sock))
		}
		d.Sockets().ReleaseRef(sock)
	})
}

func TestUnixDatagram(t *testing.T) {
	dir := tempDir(t)
	forEachDriver(t, func(t *testing.T, d *Driver) {
		s := d.Sockets()
		pa, pb := UnixAddr(filepath.Join(dir, d.Name()+"-a")), UnixAddr(filepath.Join(dir, d.Name()+"-b"))
		if !haveUnixDatagram {
			if _, err := s.CreateDatagramSocket(pa, Addr{}, 0); !errors.Is(err, ErrNotSupported) {
				t.Fatalf("Unix-domain datagram socket where the OS has none: %v", err)
			}
			return
		}
		a := newDgram(t, d, pa, Addr{})
		b := newDgram(t, d, pb, Addr{})
		buf := make([]byte, 32)
		for range 2 { // the second time the sender's path comes from the cache
			var r, w dgramResult
			s.Receive(b, buf, IOModeOnce, r.cb)
			s.Send(a, []byte("unix datagram"), IOModeOnce, pb, w.cb)
			runUntil(t, d, "datagram", func() bool { return r.done })
			if w.status != IOStatusOK || r.status != IOStatusOK || string(buf[:r.n]) != "unix datagram" || r.addr != pa {
				t.Fatalf("send %+v receive %+v %q", w, r, buf[:r.n])
			}
		}
		// An unbound sender is reported as an unnamed Unix address.
		anon := newDgram(t, d, Addr{}, pb)
		var r, w dgramResult
		s.Receive(b, buf, IOModeOnce, r.cb)
		s.Send(anon, []byte("anon"), IOModeOnce, Addr{}, w.cb)
		runUntil(t, d, "anonymous datagram", func() bool { return r.done })
		if !r.addr.IsUnix() || r.addr.Path() != "" || r.addr.IsZero() {
			t.Fatalf("unnamed sender reported as %#v", r.addr)
		}
		for _, h := range []DatagramSocket{a, b, anon} {
			s.ReleaseRef(h)
		}
	})
}

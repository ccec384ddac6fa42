package eventcore

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"
)

// dirEntries lists the names in dir.
func dirEntries(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// A Unix-domain path with a NUL byte is refused wherever a path enters,
// with an error that wraps ErrInvalidAddress, and nothing is bound to the
// part before the NUL (no socket file is left behind, no datagram reaches
// the socket of that name).
func TestUnixPathWithNULRefused(t *testing.T) {
	dir := tempDir(t)
	bad := filepath.Join(dir, "sock\x00junk")
	for _, s := range []string{"unix:" + bad, "/tmp/sock\x00junk", "./sock\x00junk"} {
		if a, err := ParseAddr(s); !errors.Is(err, ErrInvalidAddress) {
			t.Errorf("ParseAddr(%q) = %v, %v", s, a, err)
		}
	}
	if a, err := AddrFromNet(&net.UnixAddr{Name: bad, Net: "unix"}); !errors.Is(err, ErrInvalidAddress) {
		t.Errorf("AddrFromNet(%q) = %v, %v", bad, a, err)
	}
	if abstractUnixPaths {
		// An abstract name is bytes of a given length: NULs are part of it.
		if _, err := ParseAddr("@eventcore\x00test"); err != nil {
			t.Errorf("ParseAddr of an abstract name with a NUL: %v", err)
		}
	}
	forEachDriver(t, func(t *testing.T, d *Driver) {
		s := d.Sockets()
		a := UnixAddr(bad)
		if l, err := s.ListenStream(a, 0, nil); !errors.Is(err, ErrInvalidAddress) {
			t.Errorf("ListenStream(%q): %v", bad, err)
			if err == nil {
				s.ReleaseRef(l)
			}
		}
		good := UnixAddr(filepath.Join(dir, "good"))
		for _, c := range []struct{ peer, bind Addr }{{a, Addr{}}, {good, a}, {a, good}} {
			st := ConnectStatus(255)
			c := s.ConnectStream(c.peer, c.bind, func(_ StreamSocket, cs ConnectStatus) { st = cs })
			runUntil(t, d, "connect", func() bool { return st != 255 })
			if st == ConnectStatusConnected || !errors.Is(d.LastError(c), ErrInvalidAddress) {
				t.Errorf("ConnectStream with %q: %v, %v", bad, st, d.LastError(c))
			}
			s.ReleaseRef(c)
		}
		for _, c := range [][2]Addr{{a, Addr{}}, {Addr{}, a}, {good, a}, {a, good}} {
			if g, err := s.CreateDatagramSocket(c[0], c[1], 0); !errors.Is(err, ErrInvalidAddress) {
				t.Errorf("CreateDatagramSocket(%v, %v): %v", c[0], c[1], err)
				if err == nil {
					s.ReleaseRef(g)
				}
			}
		}
		if haveUnixDatagram {
			// The socket named by the part before the NUL exists: a
			// datagram sent to the path with the NUL must not reach it.
			named := UnixAddr(filepath.Join(dir, d.Name()+"-sock"))
			rx := newDgram(t, d, named, Addr{})
			tx := newDgram(t, d, UnixAddr(filepath.Join(dir, d.Name()+"-tx")), Addr{})
			var w dgramResult
			s.Send(tx, []byte("astray"), IOModeOnce, UnixAddr(named.Path()+"\x00junk"), w.cb)
			runUntil(t, d, "send", func() bool { return w.done })
			if w.status != IOStatusError || !errors.Is(d.LastError(tx), ErrInvalidAddress) {
				t.Errorf("Send to %q: %+v, %v", named.Path()+"\x00junk", w, d.LastError(tx))
			}
			var r dgramResult
			s.Receive(rx, make([]byte, 8), IOModeImmediate, r.cb)
			if r.status != IOStatusWouldBlock {
				t.Errorf("the socket before the NUL received: %+v", r)
			}
			if err := s.SetTargetAddress(tx, UnixAddr(named.Path()+"\x00junk")); !errors.Is(err, ErrInvalidAddress) {
				t.Errorf("SetTargetAddress with a NUL: %v", err)
			}
			s.ReleaseRef(rx)
			s.ReleaseRef(tx)
			os.Remove(named.Path())
			os.Remove(filepath.Join(dir, d.Name()+"-tx"))
		}
		if names := dirEntries(t, dir); len(names) != 0 {
			t.Errorf("left in the directory: %q", names)
		}
	})
}

// Files, watchers and processes refuse a path or argument with a NUL byte
// too (their system calls do), leaving nothing behind.
func TestOtherPathsWithNULRefused(t *testing.T) {
	dir := tempDir(t)
	bad := filepath.Join(dir, "file\x00junk")
	forEachDriverAnd(t, watcherStandIns, func(t *testing.T, d *Driver) {
		if f, err := d.Files().Open(bad, FileCreate); err == nil {
			t.Errorf("Files.Open(%q) succeeded", bad)
			d.Files().ReleaseRef(f)
		}
		st := OpenStatus(255)
		var af File
		d.Files().OpenAsync(bad, FileCreate, func(f File, s OpenStatus) { af, st = f, s })
		runUntil(t, d, "OpenAsync", func() bool { return st != 255 })
		if st == OpenStatusOK {
			t.Errorf("Files.OpenAsync(%q) succeeded", bad)
		}
		d.Files().ReleaseRef(af)
		if w, err := d.Watchers().WatchDirectory(dir+"\x00junk", false, func(WatcherID, FileChange) {}); err == nil {
			t.Errorf("WatchDirectory of a path with a NUL succeeded")
			d.Watchers().ReleaseRef(w)
		}
		self := []string{os.Args[0], "-test.run=^$"}
		for _, c := range []struct {
			args []string
			env  map[string]string
			dir  string
		}{
			{args: []string{os.Args[0] + "\x00junk", "-test.run=^$"}},
			{args: append(self, "x\x00y")},
			{args: self, env: map[string]string{"EVENTCORE_NUL": "x\x00y"}},
			{args: self, dir: dir + "\x00junk"},
		} {
			p, err := d.Processes().Spawn(c.args, RedirectNone, RedirectNone, RedirectNone, c.env, 0, c.dir)
			if err == nil {
				t.Errorf("Spawn(%q, env %q, dir %q) succeeded", c.args, c.env, c.dir)
				exited := false
				d.Processes().Wait(p.ID, func(ProcessID, int) { exited = true })
				runUntil(t, d, "the child's exit", func() bool { return exited })
				d.Processes().ReleaseRef(p.ID)
			}
		}
		if names := dirEntries(t, dir); len(names) != 0 {
			t.Errorf("left in the directory: %q", names)
		}
	})
}

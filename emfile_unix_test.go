//go:build unix

package eventcore

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Descriptor exhaustion. A child process (this test binary, run again with
// EVENTCORE_EMFILE_CHILD set) lowers its own descriptor limit and serves
// echo connections that this process makes, more than it can accept.
const emfileClients = 30

func TestAcceptUnderFDExhaustion(t *testing.T) {
	for _, name := range testDrivers(t) {
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestEMFILEChild$", "-test.v")
			cmd.Env = append(os.Environ(), "EVENTCORE_EMFILE_CHILD=1", "EVENTCORE_DRIVER="+name)
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			cmd.Stderr = os.Stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			lines := bufio.NewScanner(out)
			var addr string
			var log []string
			for lines.Scan() {
				log = append(log, lines.Text())
				if a, ok := strings.CutPrefix(lines.Text(), "LISTEN "); ok {
					addr = a
					break
				}
			}
			if addr == "" {
				cmd.Wait()
				t.Fatalf("the child did not start: %q", log)
			}
			var wg sync.WaitGroup
			echoed := make(chan error, emfileClients)
			for i := range emfileClients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					echoed <- echoOnce(addr, fmt.Sprintf("client %d", i))
				}()
			}
			go func() {
				for lines.Scan() {
					log = append(log, lines.Text())
				}
			}()
			wg.Wait()
			close(echoed)
			for err := range echoed {
				if err != nil {
					t.Error(err)
				}
			}
			if err := cmd.Wait(); err != nil {
				t.Errorf("child: %v", err)
			}
			t.Logf("child said: %q", log)
		})
	}
}

func echoOnce(addr, msg string) error {
	c, err := net.DialTimeout("tcp", addr, hangLimit)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(hangLimit))
	if _, err := c.Write([]byte(msg)); err != nil {
		return err
	}
	buf := make([]byte, len(msg))
	if _, err := c.Read(buf); err != nil || string(buf) != msg {
		return fmt.Errorf("echo of %q: %q, %v", msg, buf, err)
	}
	return nil
}

// TestEMFILEChild is the child's side: it runs only in the child process.
func TestEMFILEChild(t *testing.T) {
	if os.Getenv("EVENTCORE_EMFILE_CHILD") == "" {
		t.Skip("runs as the child of TestAcceptUnderFDExhaustion")
	}
	d := newTestDriver(t, testDrivers(t)[0])
	s := d.Sockets()
	var conns []StreamSocket
	closeAfterEcho := false
	onAccept := func(_ StreamListener, c StreamSocket, _ Addr) {
		conns = append(conns, c)
		buf := make([]byte, 64)
		s.Read(c, buf, IOModeOnce, func(c StreamSocket, st IOStatus, n int) {
			if st != IOStatusOK {
				return
			}
			s.Write(c, buf[:n], IOModeAll, func(c StreamSocket, _ IOStatus, _ int) {
				if closeAfterEcho {
					s.ReleaseRef(c)
				}
			})
		})
	}
	lst, err := s.ListenStream(MustParseAddr("127.0.0.1:0"), ListenDefaults, onAccept)
	if err != nil {
		t.Fatal(err)
	}
	// Room for a few connections only.
	var lim syscall.Rlimit
	syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim)
	setRlimitCur(&lim.Cur, openFDs(t)+8)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	addr, _ := s.LocalAddress(lst)
	fmt.Printf("LISTEN %s\n", addr)

	runUntil(t, d, "EMFILE on accept", func() bool { return errors.Is(d.LastError(lst), syscall.EMFILE) })
	accepted := len(conns)

	// Under exhaustion: clear statuses, no spinning, existing connections
	// still served (the parent checks their echoes).
	status := ConnectStatus(255)
	sock := s.ConnectStream(addr, Addr{}, func(_ StreamSocket, st ConnectStatus) { status = st })
	if status != ConnectStatusSocketCreateFailure || !errors.Is(d.LastError(sock), syscall.EMFILE) {
		t.Errorf("connect under exhaustion: %v, %v", status, d.LastError(sock))
	}
	s.ReleaseRef(sock)
	if _, err := d.Files().Open(filepath.Join(t.TempDir(), "f"), FileCreate); !errors.Is(err, syscall.EMFILE) {
		t.Errorf("open under exhaustion: %v", err)
	}
	if _, err := s.CreateDatagramSocket(MustParseAddr("127.0.0.1:0"), Addr{}, 0); !errors.Is(err, syscall.EMFILE) {
		t.Errorf("socket under exhaustion: %v", err)
	}
	var before syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &before)
	start := time.Now()
	runFor(d, 500*time.Millisecond)
	var after syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &after)
	cpu := time.Duration(after.Utime.Nano() + after.Stime.Nano() - before.Utime.Nano() - before.Stime.Nano())
	if wall := time.Since(start); cpu > wall/2 {
		t.Errorf("the loop spun while accept failed: %v of CPU in %v", cpu, wall)
	}

	// Free the descriptors: every pending connection is accepted.
	closeAfterEcho = true
	for _, c := range conns {
		s.ReleaseRef(c)
	}
	conns = conns[:0]
	total := accepted
	runUntil(t, d, "the remaining connections", func() bool {
		total += len(conns)
		conns = conns[:0]
		return total >= emfileClients
	})
	fmt.Printf("ACCEPTED %d before exhaustion, %d in all; %v of CPU while exhausted\n", accepted, total, cpu)
	runFor(d, 50*time.Millisecond) // let the last echoes go out
	s.ReleaseRef(lst)
	d.Dispose()
}

// setRlimitCur sets a soft limit whose field type differs by OS (uint64 on
// Linux and macOS, int64 on FreeBSD).
func setRlimitCur[T ~int64 | ~uint64](cur *T, n int) { *cur = T(n) }

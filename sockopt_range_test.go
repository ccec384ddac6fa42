//go:build darwin || dragonfly || freebsd || linux || netbsd || windows

package eventcore

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Socket options out of the system's range are refused with an error that
// names the range, and leave the option as it was; they are never cut to
// fit. Each check reads the option back from the kernel.

// wantOutOfRange fails t unless err wraps ErrOutOfRange and names the range
// 0..hi.
func wantOutOfRange(t *testing.T, what string, err error, hi int64) {
	t.Helper()
	if !errors.Is(err, ErrOutOfRange) || !strings.Contains(err.Error(), fmt.Sprintf("between 0 and %d", hi)) {
		t.Errorf("%s: %v; want ErrOutOfRange naming 0..%d", what, err, hi)
	}
}

func TestSockoptKeepAliveRange(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *Driver) {
		s := d.Sockets()
		c, srv := streamPair(t, d, MustParseAddr("127.0.0.1:0"))
		defer s.ReleaseRef(srv)
		defer s.ReleaseRef(c)
		probes := 7
		err := s.SetKeepAliveParams(c, 42*time.Second, 1500*time.Millisecond, probes)
		if errors.Is(err, ErrNotSupported) {
			// Windows before 10 1709, and Wine 8: no probe count.
			probes = 0
			err = s.SetKeepAliveParams(c, 42*time.Second, 1500*time.Millisecond, probes)
		}
		if err != nil {
			t.Fatal(err)
		}
		want := [3]int{42, 2, probes}
		got, readable := keepAliveState(t, d, c)
		if readable && got != want {
			t.Fatalf("idle, interval, probes = %v, want %v", got, want)
		}
		tooLong := (maxKeepAliveSecs + 1) * time.Second
		for _, bad := range []struct {
			what           string
			idle, interval time.Duration
			probes         int
			hi             int64
		}{
			{"idle Infinite", Infinite, time.Second, 1, maxKeepAliveSecs},
			{"idle too long", tooLong, time.Second, 1, maxKeepAliveSecs},
			{"idle just too long", tooLong - time.Second + 1, time.Second, 1, maxKeepAliveSecs},
			{"idle negative", -time.Nanosecond, time.Second, 1, maxKeepAliveSecs},
			{"interval Infinite", time.Second, Infinite, 1, maxKeepAliveSecs},
			{"interval too long", time.Second, tooLong, 1, maxKeepAliveSecs},
			{"interval negative", time.Second, math.MinInt64, 1, maxKeepAliveSecs},
			{"probes too many", time.Second, time.Second, maxKeepAliveProbes + 1, maxKeepAliveProbes},
			{"probes MaxInt", time.Second, time.Second, math.MaxInt, maxKeepAliveProbes},
			{"probes negative", time.Second, time.Second, -1, maxKeepAliveProbes},
		} {
			wantOutOfRange(t, bad.what, s.SetKeepAliveParams(c, bad.idle, bad.interval, bad.probes), bad.hi)
			if got, _ := keepAliveState(t, d, c); readable && got != want {
				t.Errorf("%s: idle, interval, probes changed to %v", bad.what, got)
			}
		}
		if !readable {
			return
		}
		// A zero leaves its value as it is; a fraction of a second rounds
		// up, never down to 0.
		if err := s.SetKeepAliveParams(c, 0, time.Nanosecond, 0); err != nil {
			t.Fatal(err)
		}
		if got, _ := keepAliveState(t, d, c); got != [3]int{42, 1, 7} {
			t.Errorf("after (0, 1ns, 0): idle, interval, probes = %v, want [42 1 7]", got)
		}
	})
}

func TestSockoptMulticastRange(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *Driver) {
		s := d.Sockets()
		for _, c := range []struct {
			bind       string
			level, opt int
		}{
			{"127.0.0.1:0", syscall.IPPROTO_IP, syscall.IP_MULTICAST_TTL},
			{"[::1]:0", syscall.IPPROTO_IPV6, syscall.IPV6_MULTICAST_HOPS},
		} {
			sock, err := s.CreateDatagramSocket(MustParseAddr(c.bind), Addr{}, 0)
			if err != nil {
				t.Logf("no %s socket: %v", c.bind, err)
				continue
			}
			if err := s.SetMulticastTTL(sock, 3); err != nil {
				t.Fatalf("%s: SetMulticastTTL(3): %v", c.bind, err)
			}
			// 1<<40 where int has 64 bits: cut to 32 bits it would be 0.
			for _, ttl := range []int{256, -1, 1 << (strconv.IntSize - 24), math.MaxInt, math.MinInt} {
				wantOutOfRange(t, fmt.Sprintf("%s: SetMulticastTTL(%d)", c.bind, ttl), s.SetMulticastTTL(sock, ttl), maxTTL)
			}
			if v := sockOptRaw(t, d, sock, c.level, c.opt); v != 3 {
				t.Errorf("%s: multicast TTL = %d after refused values, want 3", c.bind, v)
			}
			for _, ifIndex := range []uint32{math.MaxInt32 + 1, math.MaxUint32} {
				wantOutOfRange(t, "SetMulticastInterface", s.SetMulticastInterface(sock, ifIndex), maxIfIndex)
				group := MustParseAddr("239.255.77.78:0")
				if strings.HasPrefix(c.bind, "[") {
					group = MustParseAddr("[ff15::7778]:0")
				}
				wantOutOfRange(t, "JoinMulticastGroup", s.JoinMulticastGroup(sock, group, ifIndex), maxIfIndex)
				wantOutOfRange(t, "LeaveMulticastGroup", s.LeaveMulticastGroup(sock, group, ifIndex), maxIfIndex)
			}
			s.ReleaseRef(sock)
		}
	})
}

package eventcore

import (
	"math"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestSockoptUserTimeoutRange: TCP_USER_TIMEOUT takes 0..MaxInt32 ms;
// longer timeouts (50 days, Infinite) and negative ones are refused, not
// cut to another value, and a fraction of a millisecond rounds up.
func TestSockoptUserTimeoutRange(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *Driver) {
		s := d.Sockets()
		c, srv := streamPair(t, d, MustParseAddr("127.0.0.1:0"))
		defer s.ReleaseRef(srv)
		defer s.ReleaseRef(c)
		get := func() int { return sockOptRaw(t, d, c, syscall.IPPROTO_TCP, unix.TCP_USER_TIMEOUT) }
		if err := s.SetUserTimeout(c, 2500*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		for _, bad := range []time.Duration{50 * 24 * time.Hour, Infinite, (math.MaxInt32 + 1) * time.Millisecond, math.MaxInt32*time.Millisecond + 1, -time.Nanosecond} {
			wantOutOfRange(t, "SetUserTimeout("+bad.String()+")", s.SetUserTimeout(c, bad), math.MaxInt32)
			if v := get(); v != 2500 {
				t.Errorf("SetUserTimeout(%v): TCP_USER_TIMEOUT changed to %d ms", bad, v)
			}
		}
		for _, ok := range []struct {
			d    time.Duration
			want int
		}{{time.Nanosecond, 1}, {1500 * time.Microsecond, 2}, {math.MaxInt32 * time.Millisecond, math.MaxInt32}, {0, 0}} {
			if err := s.SetUserTimeout(c, ok.d); err != nil {
				t.Errorf("SetUserTimeout(%v): %v", ok.d, err)
			} else if v := get(); v != ok.want {
				t.Errorf("SetUserTimeout(%v): TCP_USER_TIMEOUT = %d ms, want %d", ok.d, v, ok.want)
			}
		}
	})
}

// TestSockoptKeepAliveLinuxLimits: the largest values Linux takes are
// passed as they are.
func TestSockoptKeepAliveLinuxLimits(t *testing.T) {
	forEachDriver(t, func(t *testing.T, d *Driver) {
		s := d.Sockets()
		c, srv := streamPair(t, d, MustParseAddr("127.0.0.1:0"))
		defer s.ReleaseRef(srv)
		defer s.ReleaseRef(c)
		top := maxKeepAliveSecs * time.Second
		if err := s.SetKeepAliveParams(c, top, top-time.Second+1, maxKeepAliveProbes); err != nil {
			t.Fatal(err)
		}
		if got, _ := keepAliveState(t, d, c); got != [3]int{maxKeepAliveSecs, maxKeepAliveSecs, maxKeepAliveProbes} {
			t.Errorf("idle, interval, probes = %v, want the maxima", got)
		}
	})
}

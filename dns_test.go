package eventcore

import (
	"context"
	"io"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"
)

// localResolver resolves through a DNS server on 127.0.0.1 that answers
// every query with "no such name", so that no test queries the network.
// It speaks DNS over TCP (each message after its 16-bit length), which the
// Go resolver uses when its Dial returns a stream: Go's UDP sockets do not
// work under Wine 8 (net.ListenPacket needs WSAIoctl(SIO_UDP_CONNRESET)).
func localResolver(t *testing.T, queries *atomic.Int32) *net.Resolver {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				var hdr [2]byte
				for {
					if _, err := io.ReadFull(c, hdr[:]); err != nil {
						return
					}
					q := make([]byte, int(hdr[0])<<8|int(hdr[1]))
					if _, err := io.ReadFull(c, q); err != nil {
						return
					}
					queries.Add(1)
					if resp := nxdomain(q); resp != nil {
						c.Write(append([]byte{byte(len(resp) >> 8), byte(len(resp))}, resp...))
					}
				}
			}()
		}
	}()
	addr := ln.Addr().String()
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	}}
}

// nxdomain answers a DNS query with its question and RCODE 3.
func nxdomain(q []byte) []byte {
	if len(q) < 12 {
		return nil
	}
	end := 12
	for end < len(q) && q[end] != 0 {
		end += int(q[end]) + 1
	}
	end += 5 // the root label, QTYPE, QCLASS
	if end > len(q) {
		return nil
	}
	r := append([]byte(nil), q[:end]...)
	r[2] |= 0x80      // a response
	r[3] = 0x80 | 3   // recursion available, NXDOMAIN
	clear(r[6:12])    // no answer, authority or additional records
	r[4], r[5] = 0, 1 // one question
	return r
}

type dnsResult struct {
	done   bool
	status DNSStatus
	addrs  []Addr
	err    error
}

func TestDNSLookups(t *testing.T) {
	var queries atomic.Int32
	forEachDriver(t, func(t *testing.T, d *Driver) {
		lookup := func(name string) dnsResult {
			var r dnsResult
			id := d.DNS().LookupHost(name, func(id DNSLookupID, st DNSStatus, addrs []Addr) {
				r = dnsResult{true, st, addrs, d.LastError(id)}
			})
			if r.done {
				t.Fatalf("LookupHost(%q) called back before returning", name)
			}
			if d.Core().WaiterCount() != 1 {
				t.Fatalf("pending lookup: WaiterCount %d", d.Core().WaiterCount())
			}
			runUntil(t, d, "lookup of "+name, func() bool { return r.done })
			if d.DNS().CancelLookup(id); len(d.OpenHandles()) != 0 {
				t.Fatalf("lookup handle left open: %+v", d.OpenHandles())
			}
			return r
		}
		r := lookup("localhost")
		if r.status != DNSStatusOK || len(r.addrs) == 0 {
			t.Fatalf("localhost: %v %v (%v)", r.status, r.addrs, r.err)
		}
		for _, a := range r.addrs {
			if !a.AddrPort().Addr().IsLoopback() {
				t.Errorf("localhost resolved to %v", a)
			}
		}
		for lit, want := range map[string]string{"192.0.2.33": "192.0.2.33", "::1": "::1", "fe80::1%1": "fe80::1%1"} {
			r = lookup(lit)
			if r.status != DNSStatusOK || len(r.addrs) != 1 || r.addrs[0].AddrPort() != netip.AddrPortFrom(netip.MustParseAddr(want), 0) {
				t.Errorf("literal %s: %v %v", lit, r.status, r.addrs)
			}
		}
		r = lookup("no-such-host.invalid")
		if r.status != DNSStatusError || r.err == nil || len(r.addrs) != 0 {
			t.Fatalf("nonexistent name: %v %v, error %v", r.status, r.addrs, r.err)
		}
		if queries.Load() == 0 {
			t.Fatal("the lookup did not go through the driver's resolver")
		}
	}, WithResolver(localResolver(t, &queries)))
}

func TestDNSCancel(t *testing.T) {
	var queries atomic.Int32
	forEachDriver(t, func(t *testing.T, d *Driver) {
		dns := d.DNS()
		id := dns.LookupHost("localhost", func(DNSLookupID, DNSStatus, []Addr) { t.Error("cancelled lookup called") })
		lit := dns.LookupHost("127.0.0.1", func(DNSLookupID, DNSStatus, []Addr) { t.Error("cancelled literal lookup called") })
		dns.CancelLookup(id)
		dns.CancelLookup(lit)
		dns.CancelLookup(id) // twice is harmless
		if d.Core().WaiterCount() != 0 {
			t.Fatal("cancelled lookups still counted")
		}
		runFor(d, 50*time.Millisecond)
		// Cancelling from inside the callback is harmless too.
		done := false
		dns.LookupHost("::1", func(id DNSLookupID, _ DNSStatus, _ []Addr) { dns.CancelLookup(id); done = true })
		runUntil(t, d, "lookup", func() bool { return done })
		if len(d.OpenHandles()) != 0 || d.Core().WaiterCount() != 0 {
			t.Fatal("lookup leaked")
		}
	}, WithResolver(localResolver(t, &queries)))
}

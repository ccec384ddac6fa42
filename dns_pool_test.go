package eventcore

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
)

// Lookups hand back plain IPv4 addresses, never IPv4-mapped IPv6 ones:
// Go's resolver maps the hosts file's entries, and a literal may be mapped.
func TestDNSAddressesUnmapped(t *testing.T) {
	var queries atomic.Int32
	forEachDriver(t, func(t *testing.T, d *Driver) {
		lookup := func(name string) []Addr {
			t.Helper()
			var addrs []Addr
			done := false
			d.DNS().LookupHost(name, func(id DNSLookupID, st DNSStatus, a []Addr) {
				if st != DNSStatusOK {
					t.Errorf("%s: %v (%v)", name, st, d.LastError(id))
				}
				addrs, done = a, true
			})
			runUntil(t, d, "lookup of "+name, func() bool { return done })
			for _, a := range addrs {
				if ip := a.AddrPort().Addr(); ip.Is4In6() {
					t.Errorf("%s resolved to the IPv4-mapped %v", name, a)
				}
			}
			return addrs
		}
		lookup("localhost")
		addrs := lookup("::ffff:192.0.2.7")
		if len(addrs) != 1 || addrs[0].AddrPort() != netip.MustParseAddrPort("192.0.2.7:0") || !addrs[0].AddrPort().Addr().Is4() {
			t.Errorf("::ffff:192.0.2.7 resolved to %v", addrs)
		}
	}, WithResolver(localResolver(t, &queries)))
}

// Lookups against a name server that never answers do not hold back file
// I/O: DNS has a pool of its own. Cancelling them frees their workers for
// the next lookup at once.
func TestDNSDoesNotDelayFiles(t *testing.T) {
	path := tempFile(t, []byte("data"))
	// The resolver's connections never come: each lookup waits until the
	// test ends (or is cancelled: Go's resolver then returns at once).
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	silent := &net.Resolver{PreferGo: true, Dial: func(context.Context, string, string) (net.Conn, error) {
		<-release
		return nil, errors.New("no name server")
	}}
	forEachDriver(t, func(t *testing.T, d *Driver) {
		// As many lookups as the file workers (and the DNS workers): a
		// shared pool would have none left for the file.
		var ids []DNSLookupID
		for i := range max(DefaultWorkers, DefaultDNSWorkers) {
			ids = append(ids, d.DNS().LookupHost(fmt.Sprintf("slow%d.example", i), func(DNSLookupID, DNSStatus, []Addr) {
				t.Error("a lookup without a name server completed")
			}))
		}
		f, err := d.Files().Open(path, FileRead)
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 4)
		if r := runFileOp(t, d, func(cb FileIOCallback) { d.Files().Read(f, 0, buf, IOModeAll, cb) }); r.status != IOStatusOK || string(buf) != "data" {
			t.Fatalf("read: %+v %q", r, buf)
		}
		d.Files().ReleaseRef(f)
		if n := d.Core().WaiterCount(); n != len(ids) {
			t.Fatalf("WaiterCount %d, want the %d lookups", n, len(ids))
		}
		for _, id := range ids {
			d.DNS().CancelLookup(id)
		}
		done := false
		d.DNS().LookupHost("localhost", func(DNSLookupID, DNSStatus, []Addr) { done = true })
		runUntil(t, d, "a lookup after the cancelled ones", func() bool { return done })
	}, WithResolver(silent))
}

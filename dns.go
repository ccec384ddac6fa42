package eventcore

import (
	"context"
	"net"
	"net/netip"
)

// WithResolver makes the driver's DNS lookups use r instead of
// net.DefaultResolver, for example to talk to a particular server.
func WithResolver(r *net.Resolver) Option { return func(c *config) { c.resolver = r } }

// Lookups run Go's resolver (which reads /etc/hosts, and honours the
// platform's configuration) on the driver's DNS pool, apart from the file
// work (see WithDNSWorkers), and complete on the loop. Cancelling one
// cancels its context: Go's resolver then returns at once, which frees the
// worker for the next lookup.

// DNSLookupCallback is called once per LookupHost (unless cancelled) with
// the addresses found, IPv4 and IPv6, in the resolver's order, each with
// port 0. An IPv4 address is always a plain one (Is4), never IPv4-mapped
// IPv6 (::ffff:a.b.c.d), whatever the resolver or the name gave. The slice
// belongs to the callee. On DNSStatusError, Driver.LastError(id) tells why,
// during the callback; the lookup's handle is freed when the callback
// returns.
type DNSLookupCallback func(id DNSLookupID, status DNSStatus, addrs []Addr)

// DNS resolves host names: [Driver.DNS] returns it. Its methods belong to
// the loop's owner goroutine.
type DNS struct{ l *loop }

type dnsObj struct {
	cb     DNSLookupCallback
	cancel context.CancelFunc
	done   bool // the callback is running: nothing is left to cancel
}

type dnsJob struct {
	r     *net.Resolver
	h     handle
	name  string
	ctx   context.Context
	addrs []Addr
	err   error
}

// LookupHost resolves name, a host name or an IP address literal, and
// calls cb from ProcessEvents, never before LookupHost returns. A pending
// lookup counts as a waiter. It returns the zero DNSLookupID, and calls
// nothing, after Dispose.
func (d DNS) LookupHost(name string, cb DNSLookupCallback) DNSLookupID {
	l := d.l
	if l.disposed {
		return DNSLookupID{}
	}
	h, e := l.lookups.alloc(kindDNSLookup)
	if e == nil {
		return DNSLookupID{}
	}
	e.v.cb = cb
	l.waiters++
	j := &dnsJob{r: l.resolver, h: h, name: name}
	if ip, err := netip.ParseAddr(name); err == nil {
		j.addrs = []Addr{lookupAddr(ip)}
		l.xq.push(crossItem{op: crossJob, x: j})
		return DNSLookupID{h}
	}
	j.ctx, e.v.cancel = context.WithCancel(context.Background())
	l.dnsWorkers.submit(j)
	return DNSLookupID{h}
}

// CancelLookup cancels a pending lookup: its callback will not run, and
// the lookup's worker is free for the next one as soon as the resolver
// notices (Go's resolver returns at once).
func (d DNS) CancelLookup(id DNSLookupID) {
	l := d.l
	e := l.lookups.get(id.h, kindDNSLookup)
	if e == nil || e.v.done {
		return
	}
	l.endLookup(id.h, e)
}

func (l *loop) endLookup(h handle, e *entry[dnsObj]) {
	if e.v.cancel != nil {
		e.v.cancel()
	}
	if !e.v.done {
		l.waiters--
	}
	l.lookups.release(h, e)
}

func (l *loop) disposeLookups() {
	l.lookups.each(func(h handle, e *entry[dnsObj]) { l.endLookup(h, e) })
}

func (j *dnsJob) run() {
	ips, err := j.r.LookupNetIP(j.ctx, "ip", j.name)
	if err == nil && len(ips) == 0 {
		err = &net.DNSError{Err: "no addresses", Name: j.name, IsNotFound: true}
	}
	j.err = err
	j.addrs = make([]Addr, len(ips))
	for i, ip := range ips {
		j.addrs[i] = lookupAddr(ip)
	}
}

// lookupAddr is ip as a lookup reports it: port 0, an IPv4-mapped IPv6
// address unmapped (Go's resolver maps hosts-file entries).
func lookupAddr(ip netip.Addr) Addr { return Addr{ap: netip.AddrPortFrom(ip.Unmap(), 0)} }

func (j *dnsJob) finish(l *loop) {
	e := l.lookups.get(j.h, kindDNSLookup)
	if e == nil {
		return // cancelled
	}
	st := DNSStatusOK
	if j.err != nil {
		st = DNSStatusError
		e.setErr(j.err)
	}
	cb := e.v.cb
	e.v.done = true
	l.waiters--
	// Freed after the callback (LastError works in it), even if it panics.
	defer func() {
		if e := l.lookups.get(j.h, kindDNSLookup); e != nil {
			l.endLookup(j.h, e)
		}
	}()
	if cb != nil {
		l.depth++
		cb(DNSLookupID{j.h}, st, j.addrs)
		l.depth--
	}
}

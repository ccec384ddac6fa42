package tlsstream

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/eventcore-go/eventcore"
	"github.com/eventcore-go/eventcore/internal/leakcheck"
)

// The conformance style of the root package, for a subpackage: every test
// that takes a driver runs on each driver usable here (or the one
// EVENTCORE_DRIVER names), and fails if it leaves a handle open, a
// goroutine of this package running or a descriptor (a handle on Windows)
// open.
//
// The root's kqueue stand-ins replace process and vnode watching, which
// TLS does not use, and are built from unexported hooks: they are not run
// here.

// hangLimit only keeps a broken test from hanging: no timing assertion.
const hangLimit = 20 * time.Second

func TestMain(m *testing.M) {
	// Start the runtime's network poller now, so that its descriptors are
	// not counted as a test's.
	if ln, err := net.Listen("tcp", "127.0.0.1:0"); err == nil {
		ln.Close()
	}
	code := m.Run()
	if code == 0 {
		if stray := leakcheck.Stray(nil, "tlsstream.", hangLimit); stray != "" {
			fmt.Fprintf(os.Stderr, "goroutines left after the tests:\n%s\n", stray)
			code = 1
		}
	}
	os.Exit(code)
}

func testDrivers() []string {
	if name := os.Getenv("EVENTCORE_DRIVER"); name != "" {
		return []string{name}
	}
	return eventcore.Drivers()
}

// forEachDriver runs fn on a fresh driver and layer per driver.
func forEachDriver(t *testing.T, cfg Config, fn func(t *testing.T, d *eventcore.Driver, l *Layer)) {
	t.Helper()
	for _, name := range testDrivers() {
		t.Run(name, func(t *testing.T) {
			d, l := newTestLayer(t, name, cfg)
			fn(t, d, l)
			checkDispose(t, d)
		})
	}
}

// subtest runs fn as a subtest on d, whose loop the subtest's goroutine
// takes over first, as a goroutine taking over a loop must (a
// ProcessEvents: see eventcore.Driver); the test's goroutine takes it
// back after.
func subtest(t *testing.T, d *eventcore.Driver, name string, fn func(t *testing.T)) {
	t.Helper()
	t.Run(name, func(t *testing.T) {
		d.Core().ProcessEvents(0)
		fn(t)
	})
	d.Core().ProcessEvents(0)
}

// baseline is what there was before a test made its driver.
type baseline struct {
	goroutines map[uint64]bool
	fds        int
}

var baselines sync.Map // *testing.T → baseline

func newTestLayer(t *testing.T, name string, cfg Config) (*eventcore.Driver, *Layer) {
	t.Helper()
	baselines.LoadOrStore(t, baseline{leakcheck.Goroutines(), leakcheck.OpenFDs()})
	d, err := eventcore.New(eventcore.WithDriver(name))
	if err != nil {
		t.Fatalf("New(%q): %v", name, err)
	}
	t.Cleanup(func() { d.Dispose(); baselines.Delete(t) })
	return d, New(d, cfg)
}

// checkDispose disposes of d and fails t if a handle was left open, or a
// goroutine of this package or a descriptor outlives it.
func checkDispose(t *testing.T, d *eventcore.Driver) {
	t.Helper()
	if !d.Dispose() {
		t.Errorf("handles left open: %+v", d.OpenHandles())
	}
	b, _ := baselines.Load(t)
	base := b.(baseline)
	if stray := leakcheck.Stray(base.goroutines, "tlsstream.", hangLimit); stray != "" {
		t.Errorf("goroutines left after Dispose:\n%s", stray)
	}
	if base.fds >= 0 {
		deadline := time.Now().Add(hangLimit)
		for n := leakcheck.OpenFDs(); n > base.fds; n = leakcheck.OpenFDs() {
			if time.Now().After(deadline) {
				t.Errorf("descriptors left open: %d, %d before the test", n, base.fds)
				break
			}
			time.Sleep(10 * time.Millisecond) // a peer goroutine of the test closing its end
		}
	}
}

// runUntil processes events until cond holds.
func runUntil(t testing.TB, d *eventcore.Driver, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(hangLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		d.Core().ProcessEvents(10 * time.Millisecond)
	}
}

// pki is a test certificate authority and the certificates it signed,
// made once per process: no key is checked in.
type pki struct {
	pool                   *x509.CertPool
	server, expired, other tls.Certificate // localhost; expired; for other.example only
	client                 tls.Certificate
	caPEM, certPEM, keyPEM []byte // for openssl and curl: the CA, server's certificate and key
}

var (
	pkiOnce sync.Once
	testPKI *pki
)

func certs(t testing.TB) *pki {
	pkiOnce.Do(func() { testPKI = makePKI(t) })
	return testPKI
}

func makePKI(t testing.TB) *pki {
	key := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	now := time.Now()
	caKey := key()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "tlsstream test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	issue := func(serial int64, cn string, notAfter time.Time, usage x509.ExtKeyUsage, dns []string, ips []net.IP) (tls.Certificate, []byte, []byte) {
		k := key()
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: now.Add(-48 * time.Hour), NotAfter: notAfter,
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
			DNSNames: dns, IPAddresses: ips,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kDER, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: k}, pemBlock("CERTIFICATE", der), pemBlock("EC PRIVATE KEY", kDER)
	}
	p := &pki{pool: x509.NewCertPool(), caPEM: pemBlock("CERTIFICATE", caDER)}
	p.pool.AddCert(ca)
	loop := []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	p.server, p.certPEM, p.keyPEM = issue(2, "localhost", now.Add(24*time.Hour), x509.ExtKeyUsageServerAuth, []string{"localhost"}, loop)
	p.expired, _, _ = issue(3, "localhost", now.Add(-24*time.Hour), x509.ExtKeyUsageServerAuth, []string{"localhost"}, loop)
	p.other, _, _ = issue(4, "other.example", now.Add(24*time.Hour), x509.ExtKeyUsageServerAuth, []string{"other.example"}, nil)
	p.client, _, _ = issue(5, "client", now.Add(24*time.Hour), x509.ExtKeyUsageClientAuth, nil, nil)
	return p
}

// serverConfig is a server's config with the localhost certificate.
func (p *pki) serverConfig(version uint16) *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{p.server}, MinVersion: version, MaxVersion: version}
}

// clientConfig trusts the test CA and verifies "localhost".
func (p *pki) clientConfig(version uint16) *tls.Config {
	return &tls.Config{RootCAs: p.pool, ServerName: "localhost", MinVersion: version, MaxVersion: version}
}

var versions = []struct {
	name string
	v    uint16
}{{"TLS1.2", tls.VersionTLS12}, {"TLS1.3", tls.VersionTLS13}}

// forEachVersion runs fn per driver and TLS version.
func forEachVersion(t *testing.T, cfg Config, fn func(t *testing.T, d *eventcore.Driver, l *Layer, v uint16)) {
	t.Helper()
	for _, ver := range versions {
		t.Run(ver.name, func(t *testing.T) {
			forEachDriver(t, cfg, func(t *testing.T, d *eventcore.Driver, l *Layer) { fn(t, d, l, ver.v) })
		})
	}
}

// listenLoop listens on loopback with our TLS server; accepted reports
// each stream whose handshake ended (nil and the error if it failed).
func listenLoop(t testing.TB, d *eventcore.Driver, l *Layer, cfg *tls.Config, accepted func(s *Stream, err error)) (eventcore.StreamListener, string) {
	t.Helper()
	lst, err := l.Listen(eventcore.MustParseAddr("127.0.0.1:0"), eventcore.ListenDefaults, cfg, accepted)
	if err != nil {
		t.Fatal(err)
	}
	a, err := d.Sockets().LocalAddress(lst)
	if err != nil {
		t.Fatal(err)
	}
	return lst, a.String()
}

// echo serves s: what it reads it writes back, until the peer ends its
// stream; then it closes s.
func echo(s *Stream) {
	buf := make([]byte, 4096)
	var onRead IOCallback
	onRead = func(s *Stream, st eventcore.IOStatus, n int) {
		if st != eventcore.IOStatusOK {
			s.Close()
			return
		}
		s.Write(buf[:n], eventcore.IOModeAll, func(s *Stream, st eventcore.IOStatus, _ int) {
			if st != eventcore.IOStatusOK {
				s.Close()
				return
			}
			s.Read(buf, eventcore.IOModeOnce, onRead)
		})
	}
	s.Read(buf, eventcore.IOModeOnce, onRead)
}

// goResult runs fn on a goroutine of its own (a peer that blocks) and
// returns a function that reports whether it has ended, and its error.
func goResult(fn func() error) func() (bool, error) {
	var mu sync.Mutex
	done := false
	var res error
	go func() {
		err := fn()
		mu.Lock()
		done, res = true, err
		mu.Unlock()
	}()
	return func() (bool, error) {
		mu.Lock()
		defer mu.Unlock()
		return done, res
	}
}

// waitPeer runs the loop until the peer goroutine has ended, and returns
// its error.
func waitPeer(t testing.TB, d *eventcore.Driver, peer func() (bool, error)) error {
	t.Helper()
	runUntil(t, d, "the peer", func() bool { ok, _ := peer(); return ok })
	_, err := peer()
	return err
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

package tlsstream_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"math/big"
	"net"
	"time"

	"github.com/eventcore-go/eventcore"
	"github.com/eventcore-go/eventcore/tlsstream"
)

// selfSigned makes a certificate for 127.0.0.1 and a pool that trusts it.
func selfSigned() (tls.Certificate, *x509.CertPool) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		NotBefore:    time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:    x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

// A TLS echo exchange on one loop: a TLS listener, a client that dials
// it, and the accepted stream, all driven by callbacks. The handshakes run
// on the layer's pool; everything else on the loop.
func Example() {
	d, err := eventcore.New()
	if err != nil {
		panic(err)
	}
	defer d.Dispose()
	l := tlsstream.New(d, tlsstream.Config{})
	cert, pool := selfSigned()

	buf := make([]byte, 64)
	lst, err := l.Listen(eventcore.MustParseAddr("127.0.0.1:0"), eventcore.ListenDefaults,
		&tls.Config{Certificates: []tls.Certificate{cert}},
		func(s *tlsstream.Stream, err error) {
			if err != nil {
				return // a failed handshake: the stream is closed already
			}
			// Echo what arrives, once, then close (with close_notify).
			s.Read(buf, eventcore.IOModeOnce, func(s *tlsstream.Stream, st eventcore.IOStatus, n int) {
				s.Write(buf[:n], eventcore.IOModeAll, func(s *tlsstream.Stream, _ eventcore.IOStatus, _ int) {
					s.Close()
				})
			})
		})
	if err != nil {
		panic(err)
	}
	addr, _ := d.Sockets().LocalAddress(lst)

	reply := make([]byte, len("hello"))
	l.Dial(addr, &tls.Config{RootCAs: pool}, func(c *tlsstream.Stream, err error) {
		if err != nil {
			fmt.Println("handshake:", err)
			d.Sockets().ReleaseRef(lst)
			return
		}
		fmt.Println(tls.VersionName(c.ConnectionState().Version))
		c.Write([]byte("hello"), eventcore.IOModeAll, func(c *tlsstream.Stream, _ eventcore.IOStatus, _ int) {
			c.Read(reply, eventcore.IOModeAll, func(c *tlsstream.Stream, st eventcore.IOStatus, n int) {
				fmt.Printf("%s: %q\n", st, reply[:n])
				c.Close()
				d.Sockets().ReleaseRef(lst) // nothing is left to wait for: the loop ends
			})
		})
	})
	for d.Core().ProcessEvents(eventcore.Infinite) != eventcore.ExitOutOfWaiters {
	}
	// Output:
	// TLS 1.3
	// ok: "hello"
}

// A server of its own sockets: Server wraps an accepted socket, and the
// stream's first read waits for the handshake. WaitForData, then an
// IOModeImmediate read into a buffer the loop shares, keeps a waiting
// connection free of buffers of its own.
func ExampleLayer_Server() {
	d, _ := eventcore.New()
	defer d.Dispose()
	l := tlsstream.New(d, tlsstream.Config{Handshakers: 4, HandshakeTimeout: 5 * time.Second})
	cert, pool := selfSigned()
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"x-example"}}

	shared := make([]byte, 16<<10)
	lst, _ := d.Sockets().ListenStream(eventcore.MustParseAddr("127.0.0.1:0"), eventcore.ListenDefaults,
		func(_ eventcore.StreamListener, sock eventcore.StreamSocket, _ eventcore.Addr) {
			s := l.Server(sock, cfg)
			s.WaitForData(func(s *tlsstream.Stream, st eventcore.IOStatus, _ int) {
				if st != eventcore.IOStatusOK {
					s.Close()
					return
				}
				s.Read(shared, eventcore.IOModeImmediate, func(s *tlsstream.Stream, st eventcore.IOStatus, n int) {
					fmt.Printf("server got %q over %s\n", shared[:n], s.ConnectionState().NegotiatedProtocol)
					s.Close()
				})
			})
		})
	addr, _ := d.Sockets().LocalAddress(lst)

	// A crypto/tls client on a goroutine of its own.
	done := make(chan error, 1)
	go func() {
		c, err := tls.Dial("tcp", addr.String(), &tls.Config{RootCAs: pool, NextProtos: []string{"x-example"}})
		if err == nil {
			_, err = c.Write([]byte("ping"))
			c.Read(make([]byte, 1)) // the server's close_notify
			c.Close()
		}
		done <- err
		d.Core().Exit()
	}()
	for d.Core().ProcessEvents(eventcore.Infinite) != eventcore.ExitExited {
	}
	fmt.Println("client:", <-done)
	d.Sockets().ReleaseRef(lst)
	// Output:
	// server got "ping" over x-example
	// client: <nil>
}

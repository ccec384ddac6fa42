package main

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// TLS: HTTPS keep-alive under wrk, new TLS connections per second (full
// handshakes and resumed ones) and memory per idle TLS connection, each
// server serving the same ECDSA P-256 certificate with crypto/tls:
// eventcore's examples/http through tlsstream, net/http over
// tls.NewListener, fasthttp over the same.

func (r *runner) runTLS(smoke bool) error {
	if err := ensureWrk(r.log.Printf); err != nil {
		return err
	}
	cert, key, err := writeTestCert(r.bins)
	if err != nil {
		return err
	}
	tlsArgs := []string{"-cert", cert, "-key", key}
	var eventcoreSrv []serverSpec
	for _, d := range r.drivers {
		eventcoreSrv = append(eventcoreSrv, serverSpec{"eventcore-" + d, append([]string{r.bin("http"), "-addr", "127.0.0.1:0"}, tlsArgs...), append([]string{"EVENTCORE_DRIVER=" + d}, goEnv...)})
	}
	nethttp := serverSpec{"net/http", append([]string{r.bin("nethttp")}, tlsArgs...), goEnv}
	fasthttp := serverSpec{"fasthttp", append([]string{r.bin("fasthttp")}, tlsArgs...), goEnv}

	works := []httpWorkload{{name: "tls https keep-alive 64c", conns: 64, depth: 1, https: true}}
	if err := r.runHTTPWorks(works, append(append([]serverSpec(nil), eventcoreSrv...), nethttp, fasthttp), ""); err != nil {
		return err
	}
	servers := append(append([]serverSpec(nil), eventcoreSrv...), nethttp)
	for _, resume := range []bool{false, true} {
		name := "tls new conns full handshake"
		if resume {
			name = "tls new conns resumed"
		}
		for rep := range r.set.reps {
			line := ""
			for _, sv := range servers {
				rate, cpu, err := r.handshakesOnce(sv, resume)
				if err != nil {
					return fmt.Errorf("%s, %s: %w", name, sv.impl, err)
				}
				r.res.add(name, sv.impl, "conns/s", "connections/s", rate)
				r.res.add(name, sv.impl, "cpu/conn", "µs", cpu)
				line += fmt.Sprintf("  %s %.0f/s %.0fµs", sv.impl, rate, cpu)
			}
			r.log.Printf("%-28s rep %d/%d%s", name, rep+1, r.set.reps, line)
		}
	}
	if smoke {
		return nil
	}
	return r.runIdleRows("tls idle", "idletls", servers)
}

// handshakesOnce runs the handshake client against sv for the
// measurement time and returns the connections per second, and the
// server's CPU time per connection (over the whole run, warm-up included).
func (r *runner) handshakesOnce(sv serverSpec, resume bool) (rate, cpu float64, err error) {
	p, err := startServer(sv.impl, sv.argv, sv.env, serverCPU)
	if err != nil {
		return 0, 0, err
	}
	defer p.stop()
	cpu0, err := cpuTime(p.pid())
	if err != nil {
		return 0, 0, err
	}
	args := []string{p.addr.String(), strconv.FormatInt(int64(r.set.warm), 10), strconv.FormatInt(int64(r.set.dur), 10), strconv.FormatBool(resume)}
	figs, err := r.runRoleProcess("handshakes", args, goEnv, clientCPU)
	if err != nil {
		if e := p.alive(); e != nil {
			return 0, 0, e
		}
		return 0, 0, err
	}
	cpu1, err := cpuTime(p.pid())
	if err != nil {
		return 0, 0, err
	}
	if len(figs) != 2 || figs[1].Value == 0 {
		return 0, 0, fmt.Errorf("handshake client: %v", figs)
	}
	return figs[0].Value, float64(cpu1-cpu0) / 1e3 / figs[1].Value, nil
}

// handshakeConns is how many connections the handshake client keeps
// opening at once: enough to keep the server busy while the client waits.
const handshakeConns = 16

// handshakeRole is "-role handshakes ADDR WARM DUR RESUME": it opens TLS
// connections one after another on handshakeConns goroutines, each
// fetching /plaintext once (a TLS 1.3 client gets its session ticket with
// the response), and prints the connections per second after WARM, over
// DUR, and the connections made in all. With RESUME each resumes the session of the one before it.
// Certificates are not verified: the client's time is not what is measured.
func handshakeRole(args []string) error {
	if len(args) != 4 {
		return fmt.Errorf("usage: -role handshakes ADDR WARM DUR RESUME")
	}
	warm, err1 := strconv.ParseInt(args[1], 10, 64)
	dur, err2 := strconv.ParseInt(args[2], 10, 64)
	resume, err3 := strconv.ParseBool(args[3])
	if err1 != nil || err2 != nil || err3 != nil {
		return fmt.Errorf("bad arguments %q", args)
	}
	cfg := &tls.Config{InsecureSkipVerify: true}
	if resume {
		cfg.ClientSessionCache = tls.NewLRUClientSessionCache(handshakeConns)
	}
	var count atomic.Int64
	var stop atomic.Bool
	var wg sync.WaitGroup
	errs := make(chan error, handshakeConns)
	for range handshakeConns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				if err := fetchOnce(args[0], cfg); err != nil {
					errs <- err
					stop.Store(true)
					return
				}
				count.Add(1)
			}
		}()
	}
	time.Sleep(time.Duration(warm))
	start, n0 := time.Now(), count.Load()
	time.Sleep(time.Duration(dur))
	rate := float64(count.Load()-n0) / time.Since(start).Seconds()
	stop.Store(true)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
	}
	return emit([]figure{{Metric: "conns/s", Value: rate, Unit: "connections/s"}, {Metric: "conns", Value: float64(count.Load()), Unit: "connections"}})
}

// fetchOnce opens a TLS connection, fetches /plaintext and closes.
func fetchOnce(addr string, cfg *tls.Config) error {
	c, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := io.WriteString(c, "GET /plaintext HTTP/1.1\r\nHost: bench\r\n\r\n"); err != nil {
		return err
	}
	return readResponse(bufio.NewReader(c))
}

// readResponse reads one response with a Content-Length body.
func readResponse(r *bufio.Reader) error {
	length := -1
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return err
		}
		if line == "\r\n" {
			break
		}
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(k, "Content-Length") {
			length, _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	if length < 0 {
		return fmt.Errorf("a response without Content-Length")
	}
	_, err := r.Discard(length)
	return err
}

// idleTLSClient is the "-role idletls ADDR N" process: it holds N TLS
// connections, each having fetched /plaintext once, until its standard
// input closes, or for two minutes at most.
func idleTLSClient(args []string) error {
	if len(args) != 2 {
		return fmt.Errorf("usage: -role idletls ADDR N")
	}
	n, err := strconv.Atoi(args[1])
	if err != nil {
		return err
	}
	cfg := &tls.Config{InsecureSkipVerify: true, ClientSessionCache: tls.NewLRUClientSessionCache(1)}
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := range n {
		c, err := tls.Dial("tcp", args[0], cfg)
		if err != nil {
			return fmt.Errorf("connection %d: %w", i, err)
		}
		conns = append(conns, c)
		if _, err := io.WriteString(c, "GET /plaintext HTTP/1.1\r\nHost: bench\r\n\r\n"); err != nil {
			return err
		}
		if err := readResponse(bufio.NewReaderSize(c, 512)); err != nil {
			return fmt.Errorf("connection %d: %w", i, err)
		}
	}
	holdUntilTold()
	return nil
}

// writeTestCert writes a self-signed ECDSA P-256 certificate for
// 127.0.0.1 and its key into dir, for the servers under test.
func writeTestCert(dir string) (certFile, keyFile string, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		NotBefore:    time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:    x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return "", "", err
	}
	kDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return "", "", err
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		return "", "", err
	}
	return certFile, keyFile, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kDER}), 0o600)
}

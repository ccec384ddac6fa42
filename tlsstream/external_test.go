package tlsstream

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eventcore-go/eventcore"
)

// Interoperability with OpenSSL (s_client, s_server) and curl, where they
// are installed; skipped otherwise (and under Windows, where these are
// Linux programs).

func lookTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s is not installed", name)
	}
	return path
}

// pemFiles writes the CA, the server's certificate and key for a tool.
func pemFiles(t *testing.T, p *pki) (ca, cert, key string) {
	dir := t.TempDir()
	ca, cert, key = filepath.Join(dir, "ca.pem"), filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	for f, b := range map[string][]byte{ca: p.caPEM, cert: p.certPEM, key: p.keyPEM} {
		if err := os.WriteFile(f, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return ca, cert, key
}

// runTool runs a command (the loop running meanwhile) and returns its
// output.
func runTool(t *testing.T, d *eventcore.Driver, stdin []byte, name string, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = bytes.NewReader(stdin), &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	timer := time.AfterFunc(hangLimit, func() { cmd.Process.Kill() })
	defer timer.Stop()
	err := waitPeer(t, d, goResult(cmd.Wait))
	return out.String(), err
}

type toolVersion struct {
	name           string
	v              uint16
	openssl, curl  string
	curlMax, proto string
}

var toolVersions = []toolVersion{
	{"TLS1.2", tls.VersionTLS12, "-tls1_2", "--tlsv1.2", "1.2", "TLSv1.2"},
	{"TLS1.3", tls.VersionTLS13, "-tls1_3", "--tlsv1.3", "1.3", "TLSv1.3"},
}

// answerOnce serves one request per connection: it reads what comes,
// writes reply and closes (close_notify).
func answerOnce(reply string) AcceptCallback {
	return func(s *Stream, err error) {
		if err != nil {
			return
		}
		buf := make([]byte, 4096)
		s.Read(buf, eventcore.IOModeOnce, func(s *Stream, st eventcore.IOStatus, n int) {
			if st != eventcore.IOStatusOK {
				s.Close()
				return
			}
			r := reply
			if r == "" {
				r = string(buf[:n])
			}
			s.Write([]byte(r), eventcore.IOModeAll, func(s *Stream, _ eventcore.IOStatus, _ int) { s.Close() })
		})
	}
}

func TestOpenSSLClient(t *testing.T) {
	openssl := lookTool(t, "openssl")
	p := certs(t)
	ca, _, _ := pemFiles(t, p)
	forEachToolServer(t, p, "x-echo", "", func(t *testing.T, d *eventcore.Driver, tv toolVersion, addr string) {
		out, err := runTool(t, d, []byte("ping from openssl\n"), openssl, "s_client", "-connect", addr,
			"-servername", "localhost", "-CAfile", ca, "-verify_return_error", tv.openssl, "-alpn", "x-echo", "-quiet")
		if err != nil || !strings.Contains(out, "ping from openssl") {
			t.Fatalf("s_client: %v\n%s", err, out)
		}
	})
}

// forEachToolServer runs fn per TLS version and driver with our server
// listening at addr (that version, ALPN protocol proto) for one client,
// which it answers with reply (an echo of its first read if "").
func forEachToolServer(t *testing.T, p *pki, proto, reply string, fn func(t *testing.T, d *eventcore.Driver, tv toolVersion, addr string)) {
	for _, tv := range toolVersions {
		t.Run(tv.name, func(t *testing.T) {
			forEachDriver(t, Config{}, func(t *testing.T, d *eventcore.Driver, l *Layer) {
				cfg := p.serverConfig(tv.v)
				cfg.NextProtos = []string{proto}
				lst, addr := listenLoop(t, d, l, cfg, answerOnce(reply))
				defer d.Sockets().ReleaseRef(lst)
				fn(t, d, tv, addr)
			})
		})
	}
}

func TestOpenSSLServer(t *testing.T) {
	openssl := lookTool(t, "openssl")
	p := certs(t)
	_, cert, key := pemFiles(t, p)
	for _, tv := range toolVersions {
		t.Run(tv.name, func(t *testing.T) {
			forEachDriver(t, Config{}, func(t *testing.T, d *eventcore.Driver, l *Layer) {
				// A free port for s_server, which cannot report the one it
				// would pick itself.
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				port := ln.Addr().(*net.TCPAddr).Port
				ln.Close()
				cmd := exec.Command(openssl, "s_server", "-accept", "127.0.0.1:"+strconv.Itoa(port), "-cert", cert, "-key", key,
					tv.openssl, "-www", "-naccept", "1", "-quiet")
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				defer cmd.Wait()
				defer cmd.Process.Kill()
				addr := eventcore.MustParseAddr("127.0.0.1:" + strconv.Itoa(port))
				var reply []byte
				for deadline := time.Now().Add(hangLimit); ; {
					got, err := fetch(t, d, l, addr, p.clientConfig(tv.v))
					if err == nil {
						reply = got
						break
					}
					if time.Now().After(deadline) {
						t.Fatalf("no answer from s_server: %v", err)
					}
					time.Sleep(20 * time.Millisecond) // s_server starting: poll for it
				}
				if !bytes.HasPrefix(reply, []byte("HTTP/1.0 200 ok")) || !bytes.Contains(reply, []byte(tv.proto)) {
					t.Fatalf("s_server answered:\n%s", reply)
				}
			})
		})
	}
}

// fetch sends a GET over our client and reads the answer to the end of
// the stream.
func fetch(t *testing.T, d *eventcore.Driver, l *Layer, addr eventcore.Addr, cfg *tls.Config) ([]byte, error) {
	var reply []byte
	var res error
	ended := false
	buf := make([]byte, 4096)
	s := l.Dial(addr, cfg, nil)
	var onRead IOCallback
	onRead = func(s *Stream, st eventcore.IOStatus, n int) {
		reply = append(reply, buf[:n]...)
		switch st {
		case eventcore.IOStatusOK:
			s.Read(buf, eventcore.IOModeOnce, onRead)
		case eventcore.IOStatusDisconnected:
			ended = true
		default:
			res, ended = s.LastError(), true
		}
	}
	s.Write([]byte("GET / HTTP/1.0\r\n\r\n"), eventcore.IOModeAll, func(s *Stream, st eventcore.IOStatus, _ int) {
		if st != eventcore.IOStatusOK {
			res, ended = s.LastError(), true
			return
		}
		s.Read(buf, eventcore.IOModeOnce, onRead)
	})
	runUntil(t, d, "the answer", func() bool { return ended })
	s.Close()
	return reply, res
}

func TestCurl(t *testing.T) {
	curl := lookTool(t, "curl")
	p := certs(t)
	ca, _, _ := pemFiles(t, p)
	reply := "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello"
	forEachToolServer(t, p, "http/1.1", reply, func(t *testing.T, d *eventcore.Driver, tv toolVersion, addr string) {
		port := addr[strings.LastIndexByte(addr, ':')+1:]
		out, err := runTool(t, d, nil, curl, "-sS", "--cacert", ca, "--resolve", "localhost:"+port+":127.0.0.1",
			tv.curl, "--tls-max", tv.curlMax, "-w", " %{http_version} %{ssl_verify_result}",
			fmt.Sprintf("https://localhost:%s/", port))
		if err != nil || out != "hello 1.1 0" {
			t.Fatalf("curl: %v\n%q", err, out)
		}
	})
}

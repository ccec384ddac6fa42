package main

import "testing"

func TestParseRequest(t *testing.T) {
	tests := []struct {
		name, in  string
		n         int // head length; 0: incomplete
		bad       bool
		method    string
		target    string
		keepAlive bool
		length    int64
	}{
		{name: "minimal 1.1", in: "GET / HTTP/1.1\r\nHost: a\r\n\r\n", n: 27, method: "GET", target: "/", keepAlive: true},
		{name: "bare LF", in: "GET /x HTTP/1.1\nHost: a\n\n", n: 25, method: "GET", target: "/x", keepAlive: true},
		{name: "1.0 closes", in: "GET / HTTP/1.0\r\n\r\n", n: 18, method: "GET", target: "/"},
		{name: "1.0 keep-alive", in: "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", n: 42, method: "GET", target: "/", keepAlive: true},
		{name: "close token in list", in: "GET / HTTP/1.1\r\nHost: a\r\nConnection: foo, close\r\n\r\n", n: 51, method: "GET", target: "/"},
		{name: "content length", in: "POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello", n: 48, method: "POST", target: "/p", keepAlive: true, length: 5},
		{name: "value whitespace", in: "GET / HTTP/1.1\r\nHost:\t a \t\r\n\r\n", n: 30, method: "GET", target: "/", keepAlive: true},
		{name: "leading empty line", in: "\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", n: 29, method: "GET", target: "/", keepAlive: true},
		{name: "pipelined: first only", in: "GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\n", n: 28, method: "GET", target: "/1", keepAlive: true},
		{name: "incomplete line", in: "GET / HTTP/1.1\r\nHo"},
		{name: "incomplete end", in: "GET / HTTP/1.1\r\nHost: a\r\n\r"},
		{name: "empty", in: ""},
		{name: "no version", in: "GET /\r\n\r\n", bad: true},
		{name: "bad version", in: "GET / HTTP/2.0\r\nHost: a\r\n\r\n", bad: true},
		{name: "junk line", in: "BAD\r\n\r\n", bad: true},
		{name: "space in method", in: "G(T / HTTP/1.1\r\nHost: a\r\n\r\n", bad: true},
		{name: "two spaces", in: "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", bad: true},
		{name: "missing host", in: "GET / HTTP/1.1\r\n\r\n", bad: true},
		{name: "two hosts", in: "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", bad: true},
		{name: "space before colon", in: "GET / HTTP/1.1\r\nHost : a\r\n\r\n", bad: true},
		{name: "folded line", in: "GET / HTTP/1.1\r\nHost: a\r\n b\r\n\r\n", bad: true},
		{name: "no colon", in: "GET / HTTP/1.1\r\nHost a\r\n\r\n", bad: true},
		{name: "control in value", in: "GET / HTTP/1.1\r\nHost: a\x01\r\n\r\n", bad: true},
		{name: "bad length", in: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1x\r\n\r\n", bad: true},
		{name: "conflicting lengths", in: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", bad: true},
		{name: "length and chunked", in: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r request
			n, err := parseRequest([]byte(tt.in), &r)
			if tt.bad {
				if err == nil {
					t.Fatalf("parsed %q (n=%d), want an error", tt.in, n)
				}
				return
			}
			if err != nil {
				t.Fatalf("parse %q: %v", tt.in, err)
			}
			if n != tt.n {
				t.Fatalf("head length %d, want %d", n, tt.n)
			}
			if n == 0 {
				return
			}
			if string(r.method) != tt.method || string(r.target) != tt.target || r.keepAlive != tt.keepAlive || r.contentLength != tt.length {
				t.Errorf("got method %q target %q keepAlive %v length %d", r.method, r.target, r.keepAlive, r.contentLength)
			}
		})
	}
}

func TestParseTooLarge(t *testing.T) {
	big := "GET / HTTP/1.1\r\nHost: a\r\nX: "
	for len(big) <= maxHead {
		big += "xxxxxxxxxxxxxxxx"
	}
	var r request
	if _, err := parseRequest([]byte(big), &r); err != errTooLarge {
		t.Errorf("incomplete head over the limit: %v, want errTooLarge", err)
	}
	if _, err := parseRequest([]byte(big+"\r\n\r\n"), &r); err != errTooLarge {
		t.Errorf("whole head over the limit: %v, want errTooLarge", err)
	}
}

func TestParseAllocs(t *testing.T) {
	in := []byte("GET /plaintext HTTP/1.1\r\nHost: localhost\r\nAccept: text/plain\r\nConnection: keep-alive\r\n\r\n")
	var r request
	if n := testing.AllocsPerRun(100, func() { parseRequest(in, &r) }); n != 0 {
		t.Errorf("parseRequest: %v allocations", n)
	}
}

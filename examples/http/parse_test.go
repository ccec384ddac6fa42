package main

import (
	"strings"
	"testing"
)

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
			n, ok, err := parseRequest([]byte(tt.in), &r, &headScan{})
			if tt.bad {
				if err == nil {
					t.Fatalf("parsed %q (n=%d), want an error", tt.in, n)
				}
				return
			}
			if err != nil {
				t.Fatalf("parse %q: %v", tt.in, err)
			}
			if ok != (tt.n > 0) || (ok && n != tt.n) {
				t.Fatalf("head length %d (ok %v), want %d", n, ok, tt.n)
			}
			if !ok {
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
	if _, _, err := parseRequest([]byte(big), &r, &headScan{}); err != errTooLarge {
		t.Errorf("incomplete head over the limit: %v, want errTooLarge", err)
	}
	if _, _, err := parseRequest([]byte(big+"\r\n\r\n"), &r, &headScan{}); err != errTooLarge {
		t.Errorf("whole head over the limit: %v, want errTooLarge", err)
	}
}

// Empty lines before a head (issue 10, defect 16) are consumed as they
// come, so that the caller keeps none of them, and count against the head
// limit: nothing but empty lines is refused once past it, and so is a head
// that is too large with its empty lines.
func TestParseEmptyLines(t *testing.T) {
	const head = "GET / HTTP/1.1\r\nHost: a\r\n\r\n"
	var r request
	var s headScan
	blank := []byte(strings.Repeat("\r\n", 1000))
	for i := range maxHead / len(blank) {
		n, ok, err := parseRequest(blank, &r, &s)
		if n != len(blank) || ok || err != nil {
			t.Fatalf("empty lines, part %d: consumed %d of %d, ok %v, err %v", i, n, len(blank), ok, err)
		}
	}
	if s.blank != maxHead/len(blank)*len(blank) {
		t.Fatalf("%d empty-line bytes counted, want %d", s.blank, maxHead/len(blank)*len(blank))
	}
	if _, _, err := parseRequest(blank, &r, &s); err != errMalformed {
		t.Fatalf("empty lines past the limit: %v, want errMalformed", err)
	}

	s = headScan{blank: maxHead - len(head) + 1}
	if _, _, err := parseRequest([]byte(head), &r, &s); err != errTooLarge {
		t.Errorf("a head too large with its empty lines: %v, want errTooLarge", err)
	}
	s = headScan{blank: maxHead - len(head)}
	n, ok, err := parseRequest([]byte("\r\n"+head), &r, &s)
	if err != errTooLarge {
		t.Errorf("a head too large with its empty lines, two of them in the same call: %d %v %v, want errTooLarge", n, ok, err)
	}
	s = headScan{blank: maxHead - len(head) - 2}
	n, ok, err = parseRequest([]byte("\r\n"+head), &r, &s)
	if n != len(head)+2 || !ok || err != nil || s != (headScan{}) {
		t.Errorf("a head just within the limit with its empty lines: %d %v %v, state %+v after", n, ok, err, s)
	}
}

// A head that arrives a byte at a time is searched for its end once, not
// from its start at every byte: the scan resumes where the last one
// stopped, and the result is the same as in one piece.
func TestParseResumesScan(t *testing.T) {
	const head = "\r\n\nGET /x HTTP/1.1\r\nHost: a\nX: b\r\n\r\n"
	var r request
	var s headScan
	start := 0 // where the unconsumed part of head begins
	for end := 1; end <= len(head); end++ {
		before := s.scanned
		n, ok, err := parseRequest([]byte(head[start:end]), &r, &s)
		if err != nil {
			t.Fatalf("after %d bytes: %v", end, err)
		}
		start += n
		if end < len(head) {
			if ok {
				t.Fatalf("a head after %d of %d bytes", end, len(head))
			}
			if s.scanned < before || s.scanned < end-start-2 {
				t.Fatalf("after %d bytes: scanned %d (was %d) of %d", end, s.scanned, before, end-start)
			}
			continue
		}
		if !ok || start != len(head) || string(r.target) != "/x" || s != (headScan{}) {
			t.Fatalf("whole head: ok %v, consumed %d of %d, target %q, state %+v", ok, start, len(head), r.target, s)
		}
	}
}

// The bytes a scan has passed are not looked at again: an empty line
// written over them afterwards goes unseen.
func TestParseDoesNotRescan(t *testing.T) {
	part := []byte("GET / HTTP/1.1\r\nHost: a\r\nX: b")
	var r request
	var s headScan
	if n, ok, err := parseRequest(part, &r, &s); n != 0 || ok || err != nil || s.scanned < len(part)-2 {
		t.Fatalf("part of a head: %d %v %v, scanned %d of %d", n, ok, err, s.scanned, len(part))
	}
	copy(part[14:], "\n\n") // "GET / HTTP/1.1\n\n": a whole head, had it been rescanned
	if n, ok, err := parseRequest(part, &r, &s); ok || err != nil {
		t.Fatalf("the scanned part was scanned again: %d %v %v", n, ok, err)
	}
}

func TestParseAllocs(t *testing.T) {
	in := []byte("GET /plaintext HTTP/1.1\r\nHost: localhost\r\nAccept: text/plain\r\nConnection: keep-alive\r\n\r\n")
	var r request
	var s headScan
	if n := testing.AllocsPerRun(100, func() { parseRequest(in, &r, &s) }); n != 0 {
		t.Errorf("parseRequest: %v allocations", n)
	}
}

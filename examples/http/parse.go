package main

import (
	"bytes"
	"errors"
)

// A minimal HTTP/1.1 request parser (RFC 9112): the request line, header
// fields, Content-Length bodies, keep-alive and pipelining. It works on the
// bytes received so far, allocates nothing, and returns slices into them.

// request is one parsed request head.
type request struct {
	method, target []byte
	minor          int   // HTTP/1.minor
	keepAlive      bool  // whether the connection stays open afterwards
	contentLength  int64 // body bytes that follow the head
	chunked        bool  // Transfer-Encoding present (not supported here)
}

// maxHead bounds a request head, counting the empty lines before it; a
// longer one is refused.
const maxHead = 8 << 10

var (
	errMalformed = errors.New("malformed request")
	errTooLarge  = errors.New("request head too large")
)

// headScan is what parseRequest has learnt of a head that has not arrived
// in full, so that however the head is split, each byte is scanned once
// and the empty lines before it are neither kept nor left unbounded.
type headScan struct {
	blank   int // empty-line bytes consumed before the head
	scanned int // bytes at the start of the head known not to hold its end
}

// parseRequest parses the head at the start of b, after the empty lines
// that may come before it (RFC 9112 §2.2: a server ignores them). s holds
// what earlier calls learnt of the same head. It returns how many bytes of
// b it consumed and whether r now holds a head:
//   - ok: b[:n] were the empty lines and the head;
//   - not ok, no error: b[:n] were empty lines, to be dropped, and b[n:]
//     is the start of a head; call again with b[n:] and the bytes that
//     follow it, and the same s, once more arrive.
//
// Empty lines beyond maxHead are refused with errMalformed (a client that
// sends nothing else sends no request), and a head that with its empty
// lines exceeds maxHead with errTooLarge. s is reset once a head is parsed.
func parseRequest(b []byte, r *request, s *headScan) (n int, ok bool, err error) {
	for n < len(b) && (b[n] == '\r' || b[n] == '\n') {
		n++
	}
	s.blank += n
	if s.blank > maxHead {
		return n, false, errMalformed
	}
	b = b[n:]
	end, scanned := headEnd(b, s.scanned)
	if end < 0 {
		s.scanned = scanned
		if s.blank+len(b) > maxHead {
			return n, false, errTooLarge
		}
		return n, false, nil
	}
	if s.blank+end > maxHead {
		return n, false, errTooLarge
	}
	*s = headScan{}
	if err := parseHead(b[:end], r); err != nil {
		return n, false, err
	}
	return n + end, true, nil
}

// parseHead parses head, a whole request head with the empty line that
// ends it.
func parseHead(head []byte, r *request) error {
	*r = request{}
	line, rest := nextLine(head)
	if err := parseRequestLine(line, r); err != nil {
		return err
	}
	r.keepAlive = r.minor >= 1
	seenLength, host := false, false
	for len(rest) > 0 {
		line, rest = nextLine(rest)
		if len(line) == 0 {
			break // the empty line ending the head
		}
		name, value, err := splitField(line)
		if err != nil {
			return err
		}
		switch {
		case equalFold(name, "content-length"):
			n, ok := parseLength(value)
			if !ok || (seenLength && n != r.contentLength) {
				return errMalformed
			}
			r.contentLength, seenLength = n, true
		case equalFold(name, "transfer-encoding"):
			r.chunked = true
		case equalFold(name, "connection"):
			if hasToken(value, "close") {
				r.keepAlive = false
			} else if hasToken(value, "keep-alive") {
				r.keepAlive = true
			}
		case equalFold(name, "host"):
			if host {
				return errMalformed // RFC 9112 §3.2: exactly one Host
			}
			host = true
		}
	}
	if r.minor >= 1 && !host {
		return errMalformed
	}
	if r.chunked && seenLength {
		return errMalformed // RFC 9112 §6.1: a request smuggling risk
	}
	return nil
}

// headEnd returns the length of the head at the start of b up to and
// including the empty line that ends it; b[:from] is known not to hold
// that line's start. Without a whole head it returns -1 and how far b is
// now known not to: where the next search resumes. A bare LF is accepted
// as a line end (RFC 9112 §2.2).
func headEnd(b []byte, from int) (end, scanned int) {
	for i := from; ; {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return -1, len(b)
		}
		i += j // b[i] ends a line; does an empty one follow?
		k := i + 1
		switch {
		case k < len(b) && b[k] == '\n':
			return k + 1, 0
		case k+1 < len(b) && b[k] == '\r' && b[k+1] == '\n':
			return k + 2, 0
		case k >= len(b) || (k+1 >= len(b) && b[k] == '\r'):
			return -1, i // not known yet: look at this line end again
		}
		i = k
	}
}

// nextLine splits off the first line, without its CRLF or LF.
func nextLine(b []byte) (line, rest []byte) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return b, nil
	}
	line, rest = b[:i], b[i+1:]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, rest
}

func parseRequestLine(line []byte, r *request) error {
	sp := bytes.IndexByte(line, ' ')
	if sp <= 0 || !isToken(line[:sp]) {
		return errMalformed
	}
	r.method = line[:sp]
	line = line[sp+1:]
	sp = bytes.IndexByte(line, ' ')
	if sp <= 0 {
		return errMalformed
	}
	r.target = line[:sp]
	for _, c := range r.target {
		if c <= ' ' || c == 0x7f {
			return errMalformed
		}
	}
	v := line[sp+1:]
	if len(v) != 8 || string(v[:7]) != "HTTP/1." || v[7] < '0' || v[7] > '9' {
		return errMalformed
	}
	r.minor = int(v[7] - '0')
	return nil
}

// splitField splits "name: value", trimming the value's optional
// whitespace. Whitespace before the colon, and an obsolete folded line
// (one starting with whitespace), are refused (RFC 9112 §5.1, §5.2).
func splitField(line []byte) (name, value []byte, err error) {
	colon := bytes.IndexByte(line, ':')
	if colon <= 0 || !isToken(line[:colon]) {
		return nil, nil, errMalformed
	}
	value = line[colon+1:]
	for len(value) > 0 && (value[0] == ' ' || value[0] == '\t') {
		value = value[1:]
	}
	for n := len(value); n > 0 && (value[n-1] == ' ' || value[n-1] == '\t'); n = len(value) {
		value = value[:n-1]
	}
	for _, c := range value {
		if (c < ' ' && c != '\t') || c == 0x7f {
			return nil, nil, errMalformed
		}
	}
	return line[:colon], value, nil
}

// isToken reports whether b is a non-empty token (RFC 9110 §5.6.2).
func isToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c >= 0x80 || !tokenChar[c] {
			return false
		}
	}
	return true
}

var tokenChar = func() (t [128]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

func parseLength(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// equalFold compares b with lower, an ASCII lower-case string.
func equalFold(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// hasToken reports whether the comma-separated list v holds tok.
func hasToken(v []byte, tok string) bool {
	for len(v) > 0 {
		i := bytes.IndexByte(v, ',')
		item := v
		if i >= 0 {
			item, v = v[:i], v[i+1:]
		} else {
			v = nil
		}
		item = bytes.Trim(item, " \t")
		if equalFold(item, tok) {
			return true
		}
	}
	return false
}

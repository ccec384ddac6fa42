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

// maxHead bounds a request head; a longer one is refused.
const maxHead = 8 << 10

var (
	errMalformed = errors.New("malformed request")
	errTooLarge  = errors.New("request head too large")
)

// parseRequest parses the head at the start of b. It returns the head's
// length, or 0 and no error when b does not hold a whole head yet.
func parseRequest(b []byte, r *request) (int, error) {
	// Empty lines before a request line are ignored (RFC 9112 §2.2).
	skip := 0
	for skip < len(b) && (b[skip] == '\r' || b[skip] == '\n') {
		skip++
	}
	if skip > 0 {
		n, err := parseRequest(b[skip:], r)
		if n > 0 {
			n += skip
		}
		return n, err
	}
	end := headEnd(b)
	if end < 0 {
		if len(b) > maxHead {
			return 0, errTooLarge
		}
		return 0, nil
	}
	if end > maxHead {
		return 0, errTooLarge
	}
	*r = request{}
	line, rest := nextLine(b[:end])
	if err := parseRequestLine(line, r); err != nil {
		return 0, err
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
			return 0, err
		}
		switch {
		case equalFold(name, "content-length"):
			n, ok := parseLength(value)
			if !ok || (seenLength && n != r.contentLength) {
				return 0, errMalformed
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
				return 0, errMalformed // RFC 9112 §3.2: exactly one Host
			}
			host = true
		}
	}
	if r.minor >= 1 && !host {
		return 0, errMalformed
	}
	if r.chunked && seenLength {
		return 0, errMalformed // RFC 9112 §6.1: a request smuggling risk
	}
	return end, nil
}

// headEnd returns the length of the head up to and including the empty
// line, or -1. A bare LF is accepted as a line end (RFC 9112 §2.2).
func headEnd(b []byte) int {
	for i := 0; ; {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return -1
		}
		i += j + 1
		switch {
		case i < len(b) && b[i] == '\n':
			return i + 1
		case i+1 < len(b) && b[i] == '\r' && b[i+1] == '\n':
			return i + 2
		case i >= len(b) || (i+1 >= len(b) && b[i] == '\r'):
			return -1
		}
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

// Package ssetest helps the providers' tests check that they read event
// streams as the HTML standard frames them, not only as one server does.
package ssetest

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"
)

// Reframe rewrites an LF-framed event stream (a recorded capture) in the
// other framings the standard allows, keeping every event: a leading UTF-8
// byte order mark; the events' lines ended by a lone CR, CRLF and LF in
// turn; and, after the first event, events whose data is empty ("data:"
// and "data", the second named "ping"), which the standard dispatches with
// empty data. The rest of body is kept byte for byte.
func Reframe(body []byte) []byte {
	ends := []string{"\r", "\r\n", "\n"}
	var b bytes.Buffer
	b.WriteString("\ufeff")
	events := bytes.Split(bytes.TrimRight(body, "\n"), []byte("\n\n"))
	for i, e := range events {
		eol := ends[i%len(ends)]
		for _, line := range bytes.Split(e, []byte("\n")) {
			b.Write(line)
			b.WriteString(eol)
		}
		b.WriteString(eol)
		if i == 0 {
			b.WriteString("data:" + eol + eol)
			b.WriteString("event: ping" + eol + "data" + eol + eol)
		}
	}
	return b.Bytes()
}

// CutAfterCR splits body after every CR, so a CRLF spans two writes.
func CutAfterCR(body []byte) [][]byte {
	var pieces [][]byte
	for len(body) > 0 {
		n := len(body)
		if i := bytes.IndexByte(body, '\r'); i >= 0 {
			n = i + 1
		}
		pieces = append(pieces, body[:n])
		body = body[n:]
	}
	return pieces
}

// Server serves pieces, in order, as one text/event-stream response to
// every request, flushing after each piece. It is closed when the test ends.
func Server(t testing.TB, pieces [][]byte) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		rc := http.NewResponseController(w)
		for _, p := range pieces {
			if _, err := w.Write(p); err != nil {
				return
			}
			rc.Flush()
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

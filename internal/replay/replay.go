// Package replay serves recorded LM streams to the providers' conformance
// tests and compares what a provider made of them with the expected values
// stored beside each capture; it also holds the scripted and paced
// transports the providers' fault tests share.
package replay

import (
	"errors"
	"io"
	"iter"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/godspy/dspy/lm"
)

// PieceServer serves body as an event stream written in small random
// pieces with a flush after each, so every boundary case of a decoder is
// met: splits inside a line, a field name, a UTF-8 sequence or an escape.
// The server is closed when the test ends.
func PieceServer(t testing.TB, body []byte, seed uint64) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		rc := http.NewResponseController(w)
		rng := rand.New(rand.NewPCG(seed, 1))
		for b := body; len(b) > 0; {
			n := min(len(b), 1+rng.IntN(48))
			if _, err := w.Write(b[:n]); err != nil {
				return
			}
			rc.Flush()
			b = b[n:]
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// Collect drains a stream as a consumer would and checks the stream
// contract on the way: nothing after an error, and an *lm.StreamError's
// Partial holds exactly what was delivered. It returns the assembled
// response (nil if the stream failed) and the stream's error.
func Collect(t testing.TB, seq iter.Seq2[lm.Chunk, error]) (*lm.Response, error) {
	t.Helper()
	var acc lm.Accumulator
	var last error
	for ch, err := range seq {
		if last != nil {
			t.Fatalf("element after the error %v", last)
		}
		if err != nil {
			last = err
			continue
		}
		acc.Add(ch)
	}
	if last != nil {
		var se *lm.StreamError
		if errors.As(last, &se) {
			if diff := cmp.Diff(acc.Response(), se.Partial); diff != "" {
				t.Fatalf("StreamError.Partial is not what was delivered (-delivered +partial):\n%s", diff)
			}
		}
		return nil, last
	}
	r := acc.Response()
	return &r, nil
}

// Paced is one event of a PacedTransport: Data written After the previous
// one (or the response headers).
type Paced struct {
	After time.Duration
	Data  string
}

// PacedTransport answers every request with 200 and an event stream that
// writes its events on schedule, then ends the body, or, with Stall,
// keeps it open until the request is canceled. HeaderDelay holds the
// response headers back. Meant for a testing/synctest bubble, where the
// schedule runs on the fake clock.
type PacedTransport struct {
	HeaderDelay time.Duration
	Events      []Paced
	Stall       bool
}

func (p *PacedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	ctx := r.Context()
	if p.HeaderDelay > 0 {
		select {
		case <-time.After(p.HeaderDelay):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	pr, pw := io.Pipe()
	go func() {
		for _, e := range p.Events {
			select {
			case <-time.After(e.After):
			case <-ctx.Done():
				pw.CloseWithError(ctx.Err())
				return
			}
			if _, err := io.WriteString(pw, e.Data); err != nil {
				return // the reader closed the body
			}
		}
		if p.Stall {
			<-ctx.Done()
			pw.CloseWithError(ctx.Err())
			return
		}
		pw.Close()
	}()
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"text/event-stream"}}, Body: pr, Request: r}, nil
}

// Answer is one scripted reply of a Script.
type Answer func(*http.Request) (*http.Response, error)

// Script is a RoundTripper that answers the n-th request with Answers[n],
// and every request after the last with the last answer. It counts the
// requests, for exact attempt counts; it needs no network, so it works in
// a testing/synctest bubble.
type Script struct {
	Answers []Answer
	calls   atomic.Int32
}

func (s *Script) RoundTrip(r *http.Request) (*http.Response, error) {
	i := int(s.calls.Add(1)) - 1
	if r.Body != nil {
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	return s.Answers[min(i, len(s.Answers)-1)](r)
}

// Calls is the number of requests answered.
func (s *Script) Calls() int { return int(s.calls.Load()) }

// Status answers with code, header h and body.
func Status(code int, h http.Header, body string) Answer {
	return func(r *http.Request) (*http.Response, error) {
		hh := http.Header{}
		for k, v := range h {
			hh[k] = v
		}
		return &http.Response{StatusCode: code, Header: hh, Body: io.NopCloser(strings.NewReader(body)), Request: r}, nil
	}
}

// Reset fails the request as a connection reset by the server.
func Reset(*http.Request) (*http.Response, error) { return nil, syscall.ECONNRESET }

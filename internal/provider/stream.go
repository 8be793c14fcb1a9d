// Package provider holds what lm/openai and lm/anthropic share below their
// wire formats: the event stream of one streaming attempt with its idle
// timer, and the removal of credentials from everything a provider returns.
package provider

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/godspy/dspy/internal/sse"
	"github.com/godspy/dspy/lm"
)

// Stream is the event stream of one streaming attempt. Its idle timer
// cancels the attempt with lm.ErrStreamIdle when the server is silent for
// the idle timeout: from the request until the response headers, and while
// Next waits for an event, re-armed by every byte that arrives (so
// keep-alive comments and pings keep a thinking model's stream alive).
// Time the consumer spends between events does not count, so a slow
// reader is not taken for a stalled server.
type Stream struct {
	name   string
	idle   time.Duration
	timer  *time.Timer // nil without an idle timeout
	ctx    context.Context
	cancel context.CancelCauseFunc
	resp   *http.Response
	dec    *sse.Decoder

	// The idle clock. The timer is not reset per byte or per event (three
	// timer-heap operations per chunk were a few per cent of a client's
	// CPU with 1,000 streams): a wait and each byte only record the time,
	// and the timer, when it fires, checks it and re-arms for what is left.
	start   time.Time    // the origin of last
	last    atomic.Int64 // ns since start: the wait began or a byte arrived
	waiting atomic.Bool  // the attempt waits for the server
	closed  atomic.Bool
}

// Post sends a request with the attempt's context and returns its 2xx
// response, or the response header (nil if none) and the error.
type Post func(ctx context.Context) (*http.Response, http.Header, error)

// Open starts an attempt: it sends the request with post and returns the
// stream of the response body, which the caller must Close. name prefixes
// the errors ("openai", "groq", "anthropic"); idle <= 0 disables the idle
// timer; maxLine bounds one SSE line (<= 0: the decoder's default).
func Open(ctx context.Context, name string, idle time.Duration, maxLine int, post Post) (*Stream, http.Header, error) {
	s := &Stream{name: name, idle: idle}
	s.ctx, s.cancel = context.WithCancelCause(ctx)
	if idle > 0 {
		s.start = time.Now()
		s.wait()
		s.timer = time.AfterFunc(idle, s.fire)
	}
	resp, h, err := post(s.ctx)
	if err != nil {
		if ie := s.idleErr(); ie != nil {
			err = ie
		}
		s.Close()
		return nil, h, err
	}
	s.resp = resp
	var body io.Reader = resp.Body
	if s.timer != nil {
		s.waiting.Store(false) // until Next waits
		body = activity{resp.Body, s}
	}
	s.dec = sse.NewDecoder(body, maxLine)
	return s, h, nil
}

// Next advances to the next event that carries data, as sse.Decoder.Next.
func (s *Stream) Next() bool {
	if s.timer == nil {
		return s.dec.Next()
	}
	s.wait()
	ok := s.dec.Next()
	s.waiting.Store(false) // the consumer's time
	return ok
}

// wait starts a wait for the server: the idle clock runs from now.
func (s *Stream) wait() {
	s.last.Store(int64(time.Since(s.start)))
	s.waiting.Store(true)
}

// fire runs when the idle timer expires: it ends the attempt if the server
// has been silent for the idle timeout during a wait, else re-arms the
// timer for the rest of the timeout (the whole of it outside a wait: the
// consumer's time does not count, and the next wait restarts the clock).
func (s *Stream) fire() {
	if s.closed.Load() {
		return
	}
	left := s.idle
	if s.waiting.Load() {
		left -= time.Since(s.start) - time.Duration(s.last.Load())
		if left <= 0 {
			s.cancel(lm.ErrStreamIdle)
			return
		}
	}
	s.timer.Reset(left)
	if s.closed.Load() {
		s.timer.Stop() // Close stopped it before this Reset: let s go now
	}
}

// activity re-arms the idle timer whenever bytes arrive.
type activity struct {
	r io.Reader
	s *Stream
}

func (a activity) Read(p []byte) (int, error) {
	n, err := a.r.Read(p)
	if n > 0 {
		a.s.last.Store(int64(time.Since(a.s.start)))
	}
	return n, err
}

// Event returns the current event's name, valid until the next call of Next.
func (s *Stream) Event() []byte { return s.dec.Event() }

// Data returns the current event's data, valid until the next call of Next.
func (s *Stream) Data() []byte { return s.dec.Data() }

// Err reports why Next returned false: nil at a clean end of the body; an
// error matching lm.ErrStreamIdle when the idle timer fired; the context's
// cause when the caller's context ended; lm.ErrMalformed for a line over
// the limit; else the read error.
func (s *Stream) Err() error {
	err := s.dec.Err()
	if err == nil {
		return nil
	}
	if ie := s.idleErr(); ie != nil {
		return ie
	}
	if cause := context.Cause(s.ctx); cause != nil {
		return cause
	}
	if errors.Is(err, sse.ErrLineTooLong) {
		return fmt.Errorf("%s: reading stream: %w: %w", s.name, lm.ErrMalformed, err)
	}
	return fmt.Errorf("%s: reading stream: %w", s.name, err)
}

// Close releases the attempt: the timer, the body and the context.
func (s *Stream) Close() {
	if s.timer != nil {
		s.closed.Store(true)
		s.timer.Stop()
	}
	if s.resp != nil {
		s.resp.Body.Close()
	}
	s.cancel(nil)
}

// idleErr is the error of an attempt the idle timer ended, else nil.
func (s *Stream) idleErr() error {
	if errors.Is(context.Cause(s.ctx), lm.ErrStreamIdle) {
		return fmt.Errorf("%s: no event for %v: %w", s.name, s.idle, lm.ErrStreamIdle)
	}
	return nil
}

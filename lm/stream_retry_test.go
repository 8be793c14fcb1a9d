package lm

import (
	"context"
	"errors"
	"io"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestRetryPolicyStream checks the retry-before-the-first-chunk rule in one
// place: each attempt is scripted (chunks to emit, then its error and
// header), and the attempts, the elements yielded and the waits on the
// fake clock must be exact.
func TestRetryPolicyStream(t *testing.T) {
	type attempt struct {
		emit []string
		err  error
		h    http.Header
	}
	e503 := &APIError{StatusCode: 503}
	tests := []struct {
		name     string
		policy   RetryPolicy
		attempts []attempt
		stopAt   int // the consumer breaks after this many chunks (0: never)
		want     []string
		wantN    int
		wait     time.Duration
		check    func(t *testing.T, err error)
	}{
		{name: "retried before the first chunk, Retry-After honoured",
			attempts: []attempt{{err: e503, h: http.Header{"Retry-After": {"2"}}}, {err: io.ErrUnexpectedEOF, h: http.Header{"Retry-After-Ms": {"250"}}}, {emit: []string{"a", "b"}}},
			want:     []string{"a", "b"}, wantN: 3, wait: 2250 * time.Millisecond},
		{name: "not retried after a chunk: StreamError keeps it",
			policy:   RetryPolicy{MaxRetries: 5},
			attempts: []attempt{{emit: []string{"par", "tial"}, err: io.ErrUnexpectedEOF}, {emit: []string{"never"}}},
			want:     []string{"par", "tial"}, wantN: 1,
			check: func(t *testing.T, err error) {
				var se *StreamError
				if !errors.As(err, &se) || se.Partial.Text() != "partial" || !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Errorf("err = %v, want a StreamError keeping \"partial\"", err)
				}
			}},
		{name: "consumer leaves: no retry, nothing more yielded",
			attempts: []attempt{{emit: []string{"a", "b", "c"}}, {emit: []string{"never"}}},
			stopAt:   1, want: []string{"a"}, wantN: 1},
		{name: "not retryable: returned as it is",
			attempts: []attempt{{err: &APIError{StatusCode: 401}}, {emit: []string{"never"}}},
			wantN:    1,
			check: func(t *testing.T, err error) {
				var se *StreamError
				if !errors.Is(err, ErrAuth) || errors.As(err, &se) {
					t.Errorf("err = %v, want the 401 itself", err)
				}
			}},
		{name: "retries spent",
			policy:   RetryPolicy{MaxRetries: 1},
			attempts: []attempt{{err: e503, h: http.Header{"Retry-After": {"1"}}}, {err: e503, h: http.Header{"Retry-After": {"1"}}}, {emit: []string{"never"}}},
			wantN:    2, wait: time.Second,
			check: func(t *testing.T, err error) {
				if !errors.Is(err, ErrServer) {
					t.Errorf("err = %v, want the last 503", err)
				}
			}},
		{name: "backoff without Retry-After",
			policy:   RetryPolicy{BaseDelay: 100 * time.Millisecond},
			attempts: []attempt{{err: io.ErrUnexpectedEOF}, {emit: []string{"ok"}}},
			want:     []string{"ok"}, wantN: 2, wait: -100 * time.Millisecond}, // jitter: in [75ms, 100ms]
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := 0
				var got []string
				var last error
				start := time.Now()
				seq := func(yield func(Chunk, error) bool) {
					tt.policy.Stream(t.Context(), yield, func(ctx context.Context, emit func(Chunk) bool) (http.Header, error) {
						a := tt.attempts[n]
						n++
						for _, s := range a.emit {
							if !emit(Chunk{Text: s}) {
								return nil, nil
							}
						}
						return a.h, a.err
					})
				}
				for ch, err := range seq { // a yield after break would panic here
					if err != nil {
						last = err
						continue
					}
					got = append(got, ch.Text)
					if tt.stopAt > 0 && len(got) == tt.stopAt {
						break
					}
				}
				waited := time.Since(start)
				if n != tt.wantN {
					t.Errorf("attempts = %d, want %d", n, tt.wantN)
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("chunks -want +got\n%s", diff)
				}
				if tt.wait >= 0 && waited != tt.wait || tt.wait < 0 && (waited < -tt.wait*3/4 || waited > -tt.wait) {
					t.Errorf("waited %v, want %v", waited, tt.wait)
				}
				if tt.check != nil {
					tt.check(t, last)
				} else if last != nil {
					t.Errorf("err = %v", last)
				}
			})
		})
	}
}

// TestRetryPolicyStreamHonoursContext: a context that ends during the wait
// ends the stream then, with the context's cause joined to the last error.
func TestRetryPolicyStreamHonoursContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
		defer cancel()
		start := time.Now()
		n := 0
		var last error
		RetryPolicy{MaxRetries: 10}.Stream(ctx, func(_ Chunk, err error) bool { last = err; return true },
			func(ctx context.Context, emit func(Chunk) bool) (http.Header, error) {
				n++
				return http.Header{"Retry-After": {"30"}}, &APIError{StatusCode: 529}
			})
		if !errors.Is(last, context.DeadlineExceeded) || !errors.Is(last, ErrServer) || n != 1 || time.Since(start) != 3*time.Second {
			t.Errorf("err = %v after %d attempts and %v; want deadline and server error after 1 attempt and 3s", last, n, time.Since(start))
		}
	})
}

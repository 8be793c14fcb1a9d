package anthropic_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/godspy/dspy/internal/replay"
	"github.com/godspy/dspy/lm"
	"github.com/godspy/dspy/lm/anthropic"
)

const (
	okStream = streamHead + "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n" +
		"event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":2}}\n\n" +
		"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"
	okJSON     = `{"id":"msg_1","type":"message","role":"assistant","model":"claude-x","content":[{"type":"text","text":"Hel"}],"stop_reason":"end_turn","usage":{"input_tokens":5,"output_tokens":1}}`
	overloaded = `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`
)

// TestRetryTiming drives the retry policy through the Anthropic client,
// blocking and streaming, on synctest's clock: exact attempt counts, and
// exact waits where the server says how long (retry-after-ms, then
// retry-after), jittered backoff bounds where it does not.
func TestRetryTiming(t *testing.T) {
	tests := []struct {
		name     string
		policy   lm.RetryPolicy
		first    []replay.Answer
		calls    int
		min, max time.Duration
		is       error
	}{
		{"529 with retry-after-ms", lm.RetryPolicy{}, []replay.Answer{replay.Status(529, http.Header{"Retry-After-Ms": {"1234"}}, overloaded)}, 2, 1234 * time.Millisecond, 1234 * time.Millisecond, nil},
		{"429 with retry-after seconds", lm.RetryPolicy{}, []replay.Answer{replay.Status(429, http.Header{"Retry-After": {"3"}}, `{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}`)}, 2, 3 * time.Second, 3 * time.Second, nil},
		{"retry-after-ms wins over retry-after", lm.RetryPolicy{}, []replay.Answer{replay.Status(529, http.Header{"Retry-After-Ms": {"20"}, "Retry-After": {"9"}}, overloaded)}, 2, 20 * time.Millisecond, 20 * time.Millisecond, nil},
		{"reset then 500: backoff doubles", lm.RetryPolicy{}, []replay.Answer{replay.Reset, replay.Status(500, nil, `{"type":"error","error":{"type":"api_error","message":"x"}}`)}, 3, 1125 * time.Millisecond, 1500 * time.Millisecond, nil},
		{"retry-after beyond a minute falls back to backoff", lm.RetryPolicy{}, []replay.Answer{replay.Status(529, http.Header{"Retry-After": {"3600"}}, overloaded)}, 2, 375 * time.Millisecond, 500 * time.Millisecond, nil},
		{"retries spent", lm.RetryPolicy{MaxRetries: 1}, []replay.Answer{replay.Status(529, http.Header{"Retry-After": {"1"}}, overloaded), replay.Status(529, http.Header{"Retry-After": {"1"}}, overloaded)}, 2, time.Second, time.Second, lm.ErrServer},
		{"401 not retried", lm.RetryPolicy{}, []replay.Answer{replay.Status(401, nil, `{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}`)}, 1, 0, 0, lm.ErrAuth},
		{"no retry policy", lm.NoRetry(), []replay.Answer{replay.Status(529, nil, overloaded)}, 1, 0, 0, lm.ErrServer},
	}
	for _, tt := range tests {
		for _, stream := range []bool{false, true} {
			name := tt.name + map[bool]string{false: " generate", true: " stream"}[stream]
			t.Run(name, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					last := replay.Status(200, nil, okJSON)
					if stream {
						last = replay.Status(200, http.Header{"Content-Type": {"text/event-stream"}}, okStream)
					}
					s := &replay.Script{Answers: append(append([]replay.Answer{}, tt.first...), last)}
					c := anthropic.New("m", anthropic.WithHTTPClient(&http.Client{Transport: s}), anthropic.WithRetry(tt.policy))
					start := time.Now()
					var resp *lm.Response
					var err error
					if stream {
						resp, err = replay.Collect(t, c.Stream(t.Context(), &lm.Request{}))
					} else {
						resp, err = c.Generate(t.Context(), &lm.Request{})
					}
					waited := time.Since(start)
					if tt.is == nil && (err != nil || resp.Text() != "Hel") || tt.is != nil && !errors.Is(err, tt.is) {
						t.Fatalf("resp %v, err = %v; want %v", resp, err, tt.is)
					}
					if s.Calls() != tt.calls {
						t.Errorf("calls = %d, want %d", s.Calls(), tt.calls)
					}
					if waited < tt.min || waited > tt.max {
						t.Errorf("waited %v, want in [%v, %v]", waited, tt.min, tt.max)
					}
				})
			})
		}
	}
}

// TestStreamNotRetriedAfterFirstChunk: once text has reached the consumer,
// a failure ends the stream with what arrived, and no request is repeated.
func TestStreamNotRetriedAfterFirstChunk(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &replay.Script{Answers: []replay.Answer{
			replay.Status(200, nil, streamHead+"event: error\ndata: "+overloaded+"\n\n"),
			replay.Status(200, nil, okStream),
		}}
		c := anthropic.New("m", anthropic.WithHTTPClient(&http.Client{Transport: s}), anthropic.WithRetry(lm.RetryPolicy{MaxRetries: 5}))
		_, err := replay.Collect(t, c.Stream(t.Context(), &lm.Request{}))
		var se *lm.StreamError
		if !errors.As(err, &se) || se.Partial.Text() != "Hel" || !errors.Is(err, lm.ErrServer) {
			t.Errorf("err = %v, want a StreamError keeping \"Hel\"", err)
		}
		if s.Calls() != 1 {
			t.Errorf("calls = %d, want 1: a stream must not retry after output", s.Calls())
		}
	})
}

// TestRetryWaitHonoursContext: the caller's deadline ends a Retry-After wait.
func TestRetryWaitHonoursContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &replay.Script{Answers: []replay.Answer{replay.Status(529, http.Header{"Retry-After": {"30"}}, overloaded)}}
		c := anthropic.New("m", anthropic.WithHTTPClient(&http.Client{Transport: s}))
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		start := time.Now()
		_, err := lm.Collect(c.Stream(ctx, &lm.Request{}))
		if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, lm.ErrServer) || time.Since(start) != time.Second || s.Calls() != 1 {
			t.Errorf("err = %v after %v and %d calls", err, time.Since(start), s.Calls())
		}
	})
}

package openai_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/godspy/dspy/dspytest"
	"github.com/godspy/dspy/internal/replay"
	"github.com/godspy/dspy/lm"
	"github.com/godspy/dspy/lm/openai"
)

// TestFaults drives each fault of dspytest.Server through a stream and a
// blocking call and checks the error type, and that a stream's delivered
// text is all in the error's Partial.
func TestFaults(t *testing.T) {
	const text = "alpha beta gamma delta"
	tests := []struct {
		fault dspytest.Fault
		check func(t *testing.T, err error)
		// mid is set for faults that strike after the first chunk.
		mid bool
	}{
		{dspytest.FaultRateLimit, func(t *testing.T, err error) {
			var api *lm.APIError
			if !errors.Is(err, lm.ErrRateLimited) || !errors.As(err, &api) || api.StatusCode != 429 || api.RequestID == "" {
				t.Errorf("err = %v, want 429 APIError", err)
			}
		}, false},
		{dspytest.FaultServerError, func(t *testing.T, err error) {
			if !errors.Is(err, lm.ErrServer) {
				t.Errorf("err = %v, want ErrServer", err)
			}
		}, false},
		{dspytest.FaultResetBeforeFirstChunk, func(t *testing.T, err error) {
			if !lm.Retryable(err) {
				t.Errorf("err = %v, want a retryable connection error", err)
			}
		}, false},
		{dspytest.FaultResetAfterFirstChunk, func(t *testing.T, err error) {
			if !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("err = %v, want connection reset", err)
			}
		}, true},
		{dspytest.FaultStall, func(t *testing.T, err error) {
			if !errors.Is(err, lm.ErrStreamIdle) && !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("err = %v, want ErrStreamIdle", err)
			}
		}, true},
		{dspytest.FaultMalformedChunk, func(t *testing.T, err error) {
			if !errors.Is(err, lm.ErrMalformed) && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("err = %v, want ErrMalformed", err)
			}
		}, true},
		{dspytest.FaultErrorChunk, func(t *testing.T, err error) {
			var api *lm.APIError
			if !errors.Is(err, lm.ErrServer) || !errors.As(err, &api) || api.StatusCode != 0 {
				t.Errorf("err = %v, want mid-stream APIError matching ErrServer", err)
			}
		}, true},
	}
	for _, tt := range tests {
		t.Run(faultName(tt.fault), func(t *testing.T) {
			srv := dspytest.NewServer()
			defer srv.Close()
			srv.Enqueue(dspytest.Answer{Text: text, Fault: tt.fault}, dspytest.Answer{Text: text, Fault: tt.fault})
			c := newClient(srv, openai.WithRetry(lm.NoRetry()), openai.WithIdleTimeout(200*time.Millisecond))
			var delivered strings.Builder
			var last error
			for ch, err := range c.Stream(t.Context(), userReq("x")) {
				if err != nil {
					last = err
					continue
				}
				delivered.WriteString(ch.Text)
			}
			tt.check(t, last)
			var se *lm.StreamError
			if tt.mid {
				if !errors.As(last, &se) {
					t.Fatalf("err = %T %v, want *lm.StreamError", last, last)
				}
				if delivered.Len() == 0 || se.Partial.Text() != delivered.String() {
					t.Errorf("partial %q, delivered %q", se.Partial.Text(), delivered.String())
				}
			} else if errors.As(last, &se) {
				t.Errorf("err = %v: StreamError before any chunk", last)
			}
			// Blocking call: an error, never a silent partial answer.
			ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
			defer cancel()
			resp, err := c.Generate(ctx, userReq("x"))
			if err == nil {
				t.Errorf("Generate = %q, nil; want an error", resp.Text())
			}
		})
	}
}

func faultName(f dspytest.Fault) string {
	return [...]string{"none", "rate limit", "server error", "reset before first chunk", "reset after first chunk", "stall", "malformed chunk", "error chunk"}[f]
}

func TestStreamRetriesBeforeFirstChunk(t *testing.T) {
	for _, f := range []dspytest.Fault{dspytest.FaultRateLimit, dspytest.FaultServerError, dspytest.FaultResetBeforeFirstChunk} {
		t.Run(faultName(f), func(t *testing.T) {
			srv := dspytest.NewServer(dspytest.WithAnswers(dspytest.Answer{Fault: f}, dspytest.Answer{Fault: f}, dspytest.Answer{Text: "ok now"}))
			defer srv.Close()
			c := newClient(srv, openai.WithRetry(lm.RetryPolicy{BaseDelay: time.Millisecond}))
			resp, err := lm.Collect(c.Stream(t.Context(), userReq("x")))
			if err != nil {
				t.Fatal(err)
			}
			if resp.Text() != "ok now" || len(srv.Requests()) != 3 {
				t.Errorf("text %q after %d requests", resp.Text(), len(srv.Requests()))
			}
			resp, err = c.Generate(t.Context(), userReq("x"))
			if err != nil || resp.Text() == "" {
				t.Errorf("Generate: %v", err)
			}
		})
	}
}

func TestNoRetryAfterFirstChunk(t *testing.T) {
	srv := dspytest.NewServer(dspytest.WithAnswers(dspytest.Answer{Text: "one two three", Fault: dspytest.FaultResetAfterFirstChunk}, dspytest.Answer{Text: "again"}))
	defer srv.Close()
	c := newClient(srv, openai.WithRetry(lm.RetryPolicy{MaxRetries: 5, BaseDelay: time.Millisecond}))
	_, err := lm.Collect(c.Stream(t.Context(), userReq("x")))
	var se *lm.StreamError
	if !errors.As(err, &se) || se.Partial.Text() != "one" {
		t.Fatalf("err = %v", err)
	}
	if n := len(srv.Requests()); n != 1 {
		t.Errorf("%d requests, want 1: a stream must not retry after output", n)
	}
}

const okStream = "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"},\"finish_reason\":null}]}\n\ndata: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n"

func TestRetryTiming(t *testing.T) {
	ok := replay.Status(200, http.Header{"Content-Type": {"text/event-stream"}}, okStream)
	okJSON := replay.Status(200, nil, `{"id":"c","choices":[{"index":0,"message":{"content":"hi"},"finish_reason":"stop"}]}`)
	tests := []struct {
		name     string
		policy   lm.RetryPolicy
		first    []replay.Answer
		calls    int
		min, max time.Duration
		is       error
	}{
		{"retry-after-ms", lm.RetryPolicy{}, []replay.Answer{replay.Status(429, http.Header{"Retry-After-Ms": {"1234"}}, "")}, 2, 1234 * time.Millisecond, 1234 * time.Millisecond, nil},
		{"retry-after seconds", lm.RetryPolicy{}, []replay.Answer{replay.Status(503, http.Header{"Retry-After": {"3"}}, "")}, 2, 3 * time.Second, 3 * time.Second, nil},
		{"backoff doubles", lm.RetryPolicy{}, []replay.Answer{replay.Reset, replay.Status(500, nil, "")}, 3, 1125 * time.Millisecond, 1500 * time.Millisecond, nil},
		{"408 and 409", lm.RetryPolicy{}, []replay.Answer{replay.Status(408, nil, ""), replay.Status(409, nil, "")}, 3, 1125 * time.Millisecond, 1500 * time.Millisecond, nil},
		{"spent", lm.RetryPolicy{MaxRetries: 1}, []replay.Answer{replay.Status(429, nil, ""), replay.Status(429, nil, "")}, 2, 375 * time.Millisecond, 500 * time.Millisecond, lm.ErrRateLimited},
		{"400 not retried", lm.RetryPolicy{}, []replay.Answer{replay.Status(400, nil, "")}, 1, 0, 0, lm.ErrBadRequest},
	}
	for _, tt := range tests {
		for _, stream := range []bool{false, true} {
			name := tt.name + map[bool]string{false: " generate", true: " stream"}[stream]
			t.Run(name, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					last := okJSON
					if stream {
						last = ok
					}
					ft := &replay.Script{Answers: append(append([]replay.Answer{}, tt.first...), last)}
					c := openai.New("m", openai.WithHTTPClient(&http.Client{Transport: ft}), openai.WithRetry(tt.policy))
					start := time.Now()
					var err error
					if stream {
						_, err = lm.Collect(c.Stream(t.Context(), userReq("x")))
					} else {
						_, err = c.Generate(t.Context(), userReq("x"))
					}
					waited := time.Since(start)
					if tt.is == nil && err != nil || tt.is != nil && !errors.Is(err, tt.is) {
						t.Fatalf("err = %v, want %v", err, tt.is)
					}
					if got := ft.Calls(); got != tt.calls {
						t.Errorf("calls = %d, want %d", got, tt.calls)
					}
					if waited < tt.min || waited > tt.max {
						t.Errorf("waited %v, want in [%v, %v]", waited, tt.min, tt.max)
					}
				})
			})
		}
	}
}

func TestRetryWaitHonoursContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ft := &replay.Script{Answers: []replay.Answer{replay.Status(429, http.Header{"Retry-After": {"30"}}, "")}}
		c := openai.New("m", openai.WithHTTPClient(&http.Client{Transport: ft}))
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		start := time.Now()
		_, err := lm.Collect(c.Stream(ctx, userReq("x")))
		if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, lm.ErrRateLimited) || time.Since(start) != time.Second {
			t.Errorf("err = %v after %v", err, time.Since(start))
		}
	})
}

func TestStreamCutBeforeFinish(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cut := "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"par\"}}]}\n\n"
		ft := &replay.Script{Answers: []replay.Answer{replay.Status(200, nil, cut)}}
		c := openai.New("m", openai.WithHTTPClient(&http.Client{Transport: ft}), openai.WithRetry(lm.NoRetry()))
		_, err := lm.Collect(c.Stream(t.Context(), userReq("x")))
		var se *lm.StreamError
		if !errors.Is(err, io.ErrUnexpectedEOF) || !errors.As(err, &se) || se.Partial.Text() != "par" {
			t.Errorf("err = %v", err)
		}
		// Finished without [DONE] is a complete answer.
		done := cut + "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n"
		ft = &replay.Script{Answers: []replay.Answer{replay.Status(200, nil, done)}}
		c = openai.New("m", openai.WithHTTPClient(&http.Client{Transport: ft}))
		resp, err := lm.Collect(c.Stream(t.Context(), userReq("x")))
		if err != nil || resp.Text() != "par" {
			t.Errorf("resp %v err %v", resp, err)
		}
	})
}

func TestIdleTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pr, pw := io.Pipe()
		ft := &replay.Script{Answers: []replay.Answer{func(r *http.Request) (*http.Response, error) {
			go func() {
				pw.Write([]byte("data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\n"))
				<-r.Context().Done()
				pw.CloseWithError(r.Context().Err())
			}()
			return &http.Response{StatusCode: 200, Header: http.Header{}, Body: pr, Request: r}, nil
		}}}
		c := openai.New("m", openai.WithHTTPClient(&http.Client{Transport: ft}), openai.WithIdleTimeout(10*time.Second))
		start := time.Now()
		_, err := lm.Collect(c.Stream(t.Context(), userReq("x")))
		var se *lm.StreamError
		if !errors.Is(err, lm.ErrStreamIdle) || !errors.As(err, &se) || se.Partial.Text() != "a" {
			t.Errorf("err = %v", err)
		}
		if d := time.Since(start); d != 10*time.Second {
			t.Errorf("idle fired after %v", d)
		}
	})
}

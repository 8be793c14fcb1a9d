package lm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"syscall"
	"testing"
	"testing/synctest"
	"time"
)

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name string
		h    http.Header
		want time.Duration
		ok   bool
	}{
		{"none", http.Header{}, 0, false},
		{"nil", nil, 0, false},
		{"ms", http.Header{"Retry-After-Ms": {"1500"}}, 1500 * time.Millisecond, true},
		{"ms wins", http.Header{"Retry-After-Ms": {"20"}, "Retry-After": {"9"}}, 20 * time.Millisecond, true},
		{"seconds", http.Header{"Retry-After": {"3"}}, 3 * time.Second, true},
		{"fractional seconds", http.Header{"Retry-After": {"0.5"}}, 500 * time.Millisecond, true},
		{"date", http.Header{"Retry-After": {now.Add(10 * time.Second).Format(http.TimeFormat)}}, 10 * time.Second, true},
		{"past date", http.Header{"Retry-After": {now.Add(-time.Hour).Format(http.TimeFormat)}}, 0, true},
		{"too long", http.Header{"Retry-After": {"3600"}}, 0, false},
		{"negative", http.Header{"Retry-After": {"-1"}}, 0, false},
		{"garbage", http.Header{"Retry-After": {"soon"}}, 0, false},
		{"bad ms falls back", http.Header{"Retry-After-Ms": {"x"}, "Retry-After": {"2"}}, 2 * time.Second, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := RetryAfter(tt.h, now)
			if got != tt.want || ok != tt.ok {
				t.Errorf("RetryAfter = %v, %v; want %v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	tests := []struct {
		p        RetryPolicy
		n        int
		min, max time.Duration
	}{
		{RetryPolicy{}, 0, 375 * time.Millisecond, 500 * time.Millisecond},
		{RetryPolicy{}, 1, 750 * time.Millisecond, time.Second},
		{RetryPolicy{}, 3, 3 * time.Second, 4 * time.Second},
		{RetryPolicy{}, 4, 6 * time.Second, 8 * time.Second},
		{RetryPolicy{}, 40, 6 * time.Second, 8 * time.Second},
		{RetryPolicy{BaseDelay: time.Second, MaxDelay: 2 * time.Second}, 5, 1500 * time.Millisecond, 2 * time.Second},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.p, tt.n), func(t *testing.T) {
			for range 200 {
				d := tt.p.Backoff(tt.n)
				if d < tt.min || d > tt.max {
					t.Fatalf("Backoff(%d) = %v, want in [%v, %v]", tt.n, d, tt.min, tt.max)
				}
			}
		})
	}
}

func TestRetries(t *testing.T) {
	for _, tt := range []struct {
		p    RetryPolicy
		want int
	}{{RetryPolicy{}, 2}, {NoRetry(), 0}, {RetryPolicy{MaxRetries: 5}, 5}} {
		if got := tt.p.Retries(); got != tt.want {
			t.Errorf("%+v.Retries() = %d, want %d", tt.p, got, tt.want)
		}
	}
}

func TestRetryable(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{&APIError{StatusCode: 429}, true},
		{&APIError{StatusCode: 408}, true},
		{&APIError{StatusCode: 409}, true},
		{&APIError{StatusCode: 500}, true},
		{&APIError{StatusCode: 503}, true},
		{&APIError{StatusCode: 400}, false},
		{&APIError{StatusCode: 401}, false},
		{&APIError{StatusCode: 0}, false}, // mid-stream
		{fmt.Errorf("x: %w", &APIError{StatusCode: 502}), true},
		{io.ErrUnexpectedEOF, true},
		{syscall.ECONNRESET, true},
		{syscall.ECONNREFUSED, true},
		{context.Canceled, false},
		{context.DeadlineExceeded, false},
		{errors.New("other"), false},
		{ErrRefusal, false},
	}
	for _, tt := range tests {
		if got := Retryable(tt.err); got != tt.want {
			t.Errorf("Retryable(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

func TestDo(t *testing.T) {
	e429 := &APIError{StatusCode: 429}
	e400 := &APIError{StatusCode: 400}
	tests := []struct {
		name     string
		policy   RetryPolicy
		errs     []error
		headers  []http.Header
		wantN    int
		wantErr  error
		wantWait time.Duration // exact when no jitter applies, else lower bound
		exact    bool
	}{
		{"ok first", RetryPolicy{}, []error{nil}, nil, 1, nil, 0, true},
		{"retry after ms", RetryPolicy{}, []error{e429, nil}, []http.Header{{"Retry-After-Ms": {"250"}}}, 2, nil, 250 * time.Millisecond, true},
		{"retry after seconds", RetryPolicy{}, []error{e429, e429, nil}, []http.Header{{"Retry-After": {"2"}}, {"Retry-After": {"1"}}}, 3, nil, 3 * time.Second, true},
		{"backoff", RetryPolicy{}, []error{io.ErrUnexpectedEOF, nil}, nil, 2, nil, 375 * time.Millisecond, false},
		{"spent", RetryPolicy{}, []error{e429, e429, e429, nil}, []http.Header{{"Retry-After": {"1"}}, {"Retry-After": {"1"}}}, 3, ErrRateLimited, 2 * time.Second, true},
		{"not retryable", RetryPolicy{}, []error{e400, nil}, nil, 1, ErrBadRequest, 0, true},
		{"no retry", NoRetry(), []error{e429, nil}, nil, 1, ErrRateLimited, 0, true},
		{"five", RetryPolicy{MaxRetries: 5}, []error{e429, e429, e429, e429, e429, nil}, []http.Header{{"Retry-After": {"0"}}, {"Retry-After": {"0"}}, {"Retry-After": {"0"}}, {"Retry-After": {"0"}}, {"Retry-After": {"0"}}}, 6, nil, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				n := 0
				start := time.Now()
				err := tt.policy.Do(t.Context(), func(ctx context.Context) (http.Header, error) {
					i := n
					n++
					var h http.Header
					if i < len(tt.headers) {
						h = tt.headers[i]
					}
					return h, tt.errs[i]
				})
				waited := time.Since(start)
				if n != tt.wantN {
					t.Errorf("attempts = %d, want %d", n, tt.wantN)
				}
				if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
					t.Errorf("err = %v, want %v", err, tt.wantErr)
				}
				if tt.exact && waited != tt.wantWait || !tt.exact && waited < tt.wantWait {
					t.Errorf("waited %v, want %v (exact %v)", waited, tt.wantWait, tt.exact)
				}
			})
		})
	}
}

func TestDoHonoursContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
		defer cancel()
		start := time.Now()
		err := RetryPolicy{MaxRetries: 10}.Do(ctx, func(ctx context.Context) (http.Header, error) {
			return http.Header{"Retry-After": {"30"}}, &APIError{StatusCode: 503}
		})
		if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, ErrServer) {
			t.Errorf("err = %v, want deadline and server error", err)
		}
		if got := time.Since(start); got != 3*time.Second {
			t.Errorf("returned after %v, want 3s", got)
		}
	})
}

package redislimit_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/godspy/dspy/internal/redistest"
	"github.com/godspy/dspy/lm/redislimit"
)

func client(t *testing.T, addr string) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true})
	t.Cleanup(func() { c.Close() })
	return c
}

func shortCtx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

// TestRequestsQuota: 120 a minute is a burst of 2, then one every 0.5 s.
func TestRequestsQuota(t *testing.T) {
	addr := redistest.Addr(t)
	q := redislimit.New(client(t, addr), "req", redislimit.Limits{Requests: 120}, redislimit.WithPrefix(redistest.Prefix(t, addr)))
	for i := range 2 {
		if err := q.Wait(shortCtx(t, time.Second), 0); err != nil {
			t.Fatalf("request %d of the burst: %v", i, err)
		}
	}
	if err := q.Wait(shortCtx(t, 100*time.Millisecond), 0); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("request over the burst = %v, want it to wait (DeadlineExceeded)", err)
	}
	start := time.Now()
	if err := q.Wait(shortCtx(t, 2*time.Second), 0); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("next request admitted after %v, want about 0.4 s", d)
	}
}

// TestTokensQuota: a request takes its estimate; Charge takes the rest.
func TestTokensQuota(t *testing.T) {
	addr := redistest.Addr(t)
	for _, charge := range []bool{false, true} {
		q := redislimit.New(client(t, addr), "tok", redislimit.Limits{Tokens: 100}, redislimit.WithPrefix(redistest.Prefix(t, addr)))
		if err := q.Wait(shortCtx(t, time.Second), 60); err != nil {
			t.Fatal(err)
		}
		if charge {
			q.Charge(t.Context(), 40)
		}
		err := q.Wait(shortCtx(t, 100*time.Millisecond), 10)
		if charge && !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("after 60 + 40 charged of 100: Wait(10) = %v, want it to wait", err)
		}
		if !charge && err != nil {
			t.Errorf("after 60 of 100: Wait(10) = %v", err)
		}
	}
}

func TestWaitHonoursContext(t *testing.T) {
	addr := redistest.Addr(t)
	q := redislimit.New(client(t, addr), "ctx", redislimit.Limits{Requests: 2}, redislimit.WithPrefix(redistest.Prefix(t, addr)))
	q.Wait(t.Context(), 0) // the burst of 1
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- q.Wait(ctx, 0) }()
	time.Sleep(50 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Wait = %v, want context.Canceled", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("a waiting Wait did not return after its context was cancelled")
	}
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestFallbackWhenRedisIsDown: with Redis unreachable, calls are admitted
// by the local fallback (not failed), at its rate, and the outage is
// logged once.
func TestFallbackWhenRedisIsDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	var logs syncBuf
	q := redislimit.New(client(t, addr), "down", redislimit.Limits{Requests: 6000},
		redislimit.WithFallback(redislimit.Limits{Requests: 120}),
		redislimit.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	start := time.Now()
	for i := range 2 { // the fallback's burst of 2
		if err := q.Wait(shortCtx(t, time.Second), 0); err != nil {
			t.Fatalf("request %d with Redis down: %v, want the fallback to admit it", i, err)
		}
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("two requests with Redis down took %v (a Redis timeout each, or worse)", d)
	}
	if err := q.Wait(shortCtx(t, 100*time.Millisecond), 0); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("third request = %v, want the fallback's rate (120/min) to hold it", err)
	}
	out := logs.String()
	if strings.Count(out, "\n") != 1 || !strings.Contains(out, "level=WARN") || !strings.Contains(out, "using the local limit") {
		t.Errorf("log = %q, want one warning", out)
	}
}

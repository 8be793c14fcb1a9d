package cache_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/godspy/dspy/dspytest"
	"github.com/godspy/dspy/lm"
	"github.com/godspy/dspy/lm/cache"
)

// faultStore is a Store whose health a test switches: healthy (a map),
// failing at once, or stalled (blocking until its context ends).
type faultStore struct {
	mu    sync.Mutex
	mode  string // "", "fail", "stall"
	calls int
	m     map[string][]byte
}

var errDown = errors.New("store down")

func (s *faultStore) set(mode string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mode = mode
}

func (s *faultStore) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

func (s *faultStore) enter(ctx context.Context) error {
	s.mu.Lock()
	s.calls++
	mode := s.mode
	s.mu.Unlock()
	switch mode {
	case "fail":
		return errDown
	case "stall":
		<-ctx.Done()
		return ctx.Err()
	}
	return nil
}

func (s *faultStore) Get(ctx context.Context, key string) ([]byte, bool, error) {
	if err := s.enter(ctx); err != nil {
		return nil, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[key]
	return v, ok, nil
}

func (s *faultStore) Set(ctx context.Context, key string, value []byte) error {
	if err := s.enter(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string][]byte{}
	}
	s.m[key] = value
	return nil
}

func TestBreakerOpensProbesAndRecovers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		fs := &faultStore{mode: "fail"}
		b := cache.NewBreaker(fs, cache.WithFailures(3), cache.WithBackoff(time.Second, 4*time.Second))
		get := func() error { _, _, err := b.Get(ctx, "k"); return err }

		for i := range 3 {
			if err := get(); !errors.Is(err, errDown) {
				t.Fatalf("failure %d: err = %v, want the store's", i, err)
			}
		}
		if got := b.State(); got != cache.BreakerOpen {
			t.Fatalf("after 3 failures: state %v, want open", got)
		}
		for range 5 {
			if err := get(); !errors.Is(err, cache.ErrBreakerOpen) {
				t.Fatalf("open: err = %v, want ErrBreakerOpen", err)
			}
		}
		if fs.Calls() != 3 {
			t.Fatalf("open breaker let %d operations through, want 3 (no more)", fs.Calls())
		}

		// Back-off 1 s, then one probe, which fails: open for 2 s, 4 s, 4 s.
		for i, backoff := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second} {
			time.Sleep(backoff - time.Millisecond)
			if err := get(); !errors.Is(err, cache.ErrBreakerOpen) {
				t.Fatalf("probe %d: %v before the back-off of %v ended, want a skip", i, err, backoff)
			}
			time.Sleep(time.Millisecond)
			if err := get(); !errors.Is(err, errDown) {
				t.Fatalf("probe %d after %v: err = %v, want the store's", i, backoff, err)
			}
		}
		if fs.Calls() != 3+4 {
			t.Fatalf("store saw %d operations, want 7 (3 failures, 4 probes)", fs.Calls())
		}

		fs.set("")
		time.Sleep(4 * time.Second)
		if err := b.Set(ctx, "k", []byte("v")); err != nil {
			t.Fatalf("probe of a healed store: %v", err)
		}
		if got := b.State(); got != cache.BreakerClosed {
			t.Fatalf("after a good probe: state %v, want closed", got)
		}
		if v, ok, err := b.Get(ctx, "k"); err != nil || !ok || string(v) != "v" {
			t.Fatalf("closed: Get = %q, %v, %v", v, ok, err)
		}
		want := cache.BreakerStats{State: cache.BreakerClosed, Failures: 7, Skipped: 5 + 4, Opened: 5}
		if diff := cmp.Diff(want, b.Stats()); diff != "" {
			t.Errorf("Stats (-want +got):\n%s", diff)
		}

		// Recovery reset the back-off: the next outage starts at 1 s again.
		fs.set("fail")
		for range 3 {
			get()
		}
		time.Sleep(time.Second)
		if err := get(); !errors.Is(err, errDown) {
			t.Fatalf("after recovery, the first back-off is %v, want 1 s", err)
		}
	})
}

func TestBreakerTimeoutBoundsAStall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fs := &faultStore{mode: "stall"}
		b := cache.NewBreaker(fs, cache.WithTimeout(100*time.Millisecond), cache.WithFailures(2))
		start := time.Now()
		_, _, err := b.Get(context.Background(), "k")
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != 100*time.Millisecond {
			t.Fatalf("stalled Get: %v after %v, want a deadline after 100ms", err, time.Since(start))
		}
		b.Set(context.Background(), "k", nil)
		if b.State() != cache.BreakerOpen {
			t.Fatalf("two timeouts: state %v, want open", b.State())
		}
		start = time.Now()
		if err := b.Set(context.Background(), "k", nil); !errors.Is(err, cache.ErrBreakerOpen) || time.Since(start) != 0 {
			t.Fatalf("open: Set = %v after %v, want a skip at once", err, time.Since(start))
		}
	})
}

func TestBreakerCallerCancelIsNoFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fs := &faultStore{mode: "stall"}
		b := cache.NewBreaker(fs, cache.WithFailures(1), cache.WithTimeout(time.Hour))
		ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
		defer cancel()
		if _, _, err := b.Get(ctx, "k"); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Get = %v", err)
		}
		if st := b.Stats(); st.State != cache.BreakerClosed || st.Failures != 0 {
			t.Fatalf("the caller's deadline counted against the store: %+v", st)
		}
	})
}

func TestBreakerOneProbeAtATime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fs := &faultStore{mode: "fail"}
		b := cache.NewBreaker(fs, cache.WithFailures(1), cache.WithTimeout(time.Second))
		b.Get(context.Background(), "k")
		fs.set("stall")
		time.Sleep(cache.DefaultBreakerBackoff)
		probeDone := make(chan error)
		go func() { _, _, err := b.Get(context.Background(), "k"); probeDone <- err }()
		synctest.Wait()
		if b.State() != cache.BreakerHalfOpen {
			t.Fatalf("probe in flight: state %v, want half-open", b.State())
		}
		for range 10 {
			if _, _, err := b.Get(context.Background(), "k"); !errors.Is(err, cache.ErrBreakerOpen) {
				t.Fatalf("during the probe: %v, want a skip", err)
			}
		}
		if err := <-probeDone; !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("probe: %v", err)
		}
		if fs.Calls() != 2 || b.State() != cache.BreakerOpen {
			t.Fatalf("store calls %d, state %v; want 2, open", fs.Calls(), b.State())
		}
	})
}

// TestLMStoreOutage: calls through Memory+remote tiers while the remote
// fails: every call is answered, the remote is skipped once the breaker
// opens, failures are logged at most once per 10 s with a count of those
// left out, and the counters add up.
func TestLMStoreOutage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		remote := &faultStore{mode: "fail"}
		store, err := cache.New(cache.Config{Memory: true, Remote: remote})
		if err != nil {
			t.Fatal(err)
		}
		var logs bytes.Buffer
		logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{
			ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
				if a.Key == slog.TimeKey {
					return slog.Attr{}
				}
				return a
			}}))
		var told int
		c := cache.Wrap(dspytest.Repeat("ok"), store, cache.WithIdentity("p", "m"), cache.WithLogger(logger),
			cache.WithErrorFunc(func(error) { told++ }))

		// 100 distinct calls, one every 250 ms: 25 s of outage.
		for i := range 100 {
			r, err := c.Generate(ctx, userReq(fmt.Sprint("q", i)))
			if err != nil || r.Text() != "ok" {
				t.Fatalf("call %d: %v, %v", i, r, err)
			}
			time.Sleep(250 * time.Millisecond)
		}
		// Failures: 3 at t=0 (Get, Set, Get), then probes after back-offs
		// of 1, 2, 4, 8 s (t=1, 3, 7, 15); the next (16 s) falls beyond 25 s.
		// Lines: t=0, then the first failure ≥ 10 s later (t=15), which
		// reports the 5 left out in between.
		lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
		want := []string{
			`level=WARN msg="cache: store failed; calls go on without it" error="store down" suppressed=0 breaker=closed`,
			`level=WARN msg="cache: store failed; calls go on without it" error="store down" suppressed=5 breaker=open`,
		}
		if diff := cmp.Diff(want, lines); diff != "" {
			t.Errorf("log lines (-want +got):\n%s", diff)
		}
		st := c.Stats()
		wantStats := cache.Stats{Hits: 0, Misses: 100, Errors: 7, Skipped: 200 - 7, Breaker: cache.BreakerOpen}
		if diff := cmp.Diff(wantStats, st); diff != "" {
			t.Errorf("Stats (-want +got):\n%s", diff)
		}
		if told != 200 {
			t.Errorf("WithErrorFunc told %d times, want 200 (every failure and skip)", told)
		}
		if remote.Calls() != 7 {
			t.Errorf("the remote store saw %d operations, want 7", remote.Calls())
		}

		// The memory level keeps working: a repeat is a hit.
		if r, _ := c.Generate(ctx, userReq("q99")); !r.CacheHit {
			t.Error("repeat during the outage missed the memory level")
		}
		// Recovery: the next probe succeeds and the remote is used again.
		remote.set("")
		time.Sleep(16 * time.Second)
		c.Generate(ctx, userReq("after"))
		if st := c.Stats(); st.Breaker != cache.BreakerClosed {
			t.Errorf("after recovery: breaker %v, want closed", st.Breaker)
		}
		if _, ok, _ := remote.Get(ctx, mustKey(t, c, userReq("after"))); !ok {
			t.Error("after recovery the reply was not written to the remote store")
		}
	})
}

func mustKey(t *testing.T, c *cache.LM, req *lm.Request) string {
	t.Helper()
	k, err := c.Key(req)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestLogRateLimitPerStore: two LMs over one store share its log limit.
func TestLogRateLimitPerStore(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		remote := cache.NewBreaker(&faultStore{mode: "fail"}, cache.WithFailures(1000))
		var logs bytes.Buffer
		logger := slog.New(slog.NewTextHandler(&logs, nil))
		a := cache.Wrap(dspytest.Repeat("a"), remote, cache.WithIdentity("p", "a"), cache.WithLogger(logger))
		b := cache.Wrap(dspytest.Repeat("b"), remote, cache.WithIdentity("p", "b"), cache.WithLogger(logger))
		for i := range 10 {
			a.Generate(context.Background(), userReq(fmt.Sprint(i)))
			b.Generate(context.Background(), userReq(fmt.Sprint(i)))
		}
		if n := strings.Count(logs.String(), "\n"); n != 1 {
			t.Errorf("%d log lines for 40 failures of one store within 10 s, want 1:\n%s", n, logs.String())
		}
		if a.Stats().Errors+b.Stats().Errors != 40 {
			t.Errorf("errors counted: %d + %d, want 40", a.Stats().Errors, b.Stats().Errors)
		}
	})
}

func TestLMStatsHitsMisses(t *testing.T) {
	c := cache.Wrap(dspytest.Repeat("x"), cache.NewMemory(10, 0), cache.WithIdentity("p", "m"))
	ctx := t.Context()
	c.Generate(ctx, userReq("a"))
	c.Generate(ctx, userReq("a"))
	for range c.Stream(ctx, userReq("a")) {
	}
	nc := userReq("b")
	nc.NoCache = true
	c.Generate(ctx, nc)
	want := cache.Stats{Hits: 2, Misses: 1, Breaker: cache.BreakerNone}
	if diff := cmp.Diff(want, c.Stats()); diff != "" {
		t.Errorf("Stats (-want +got):\n%s", diff)
	}
}

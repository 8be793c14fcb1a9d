package reliability

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/godspy/dspy/dspytest"
	"github.com/godspy/dspy/internal/redistest"
	"github.com/godspy/dspy/lm"
	"github.com/godspy/dspy/lm/cache"
	"github.com/godspy/dspy/lm/cache/rediscache"
	"github.com/godspy/dspy/lm/openai"
	"github.com/godspy/dspy/lm/redislimit"
)

// areaFleet: what a fleet of replicas shares (Redis) failing or being
// shared.
const areaFleet = "Fleet"

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// stalledServer returns the address of a TCP server that accepts
// connections and never answers, as a hung Redis does.
func stalledServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// fleetCache returns a cache.LM over memory + Redis at addr (behind
// cache.New's default breaker unless remote is given), logging to the
// returned buffer.
func fleetCache(t *testing.T, addr string, wrap func(cache.Store) cache.Store) (*cache.LM, *bytes.Buffer) {
	t.Helper()
	r, err := rediscache.Open("redis://" + addr + "/0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	var remote cache.Store = r
	if wrap != nil {
		remote = wrap(r)
	}
	store, err := cache.New(cache.Config{Memory: true, Remote: remote})
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&syncWriter{w: &logs}, nil))
	return cache.Wrap(dspytest.Repeat("ok"), store, cache.WithIdentity("openai", "m"), cache.WithLogger(logger)), &logs
}

type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func fleetReq(i int) *lm.Request {
	return &lm.Request{Messages: []lm.Message{{Role: lm.RoleUser, Content: fmt.Sprint("question ", i)}}}
}

// timedCall makes one call of c and returns its latency; a call over 2 s
// fails the test at once (without a breaker a call against a dead Redis
// takes seconds, and 100 of them would take minutes).
func timedCall(t *testing.T, c *cache.LM, i int) time.Duration {
	t.Helper()
	start := time.Now()
	r, err := c.Generate(t.Context(), fleetReq(i))
	d := time.Since(start)
	if err != nil || r.Text() != "ok" {
		t.Fatalf("call %d: %v, %v; a cache outage must not fail a call", i, r, err)
	}
	if d > 2*time.Second {
		t.Fatalf("call %d took %v with Redis out: the outage is not skipped", i, d)
	}
	return d
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func maxOf(ds []time.Duration) time.Duration { return slices.Max(ds) }

// TestFleetRedisOutage: a cache of memory in front of Redis, with Redis
// down (a closed port) or hung (accepts, never answers). Every call is
// answered; once the breaker opens (3 failures), a call costs well under a
// millisecond instead of the client's 1.7 s of dial retries (closed port)
// or 5 s read timeout (hung).
func TestFleetRedisOutage(t *testing.T) {
	for _, tt := range []struct {
		name, what string
		addr       func(*testing.T) string
	}{
		{"down", "down (closed port)", closedPort},
		{"stalled", "hung (accepts, never answers)", stalledServer},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, logs := fleetCache(t, tt.addr(t), nil)
			// Until the breaker opens, calls pay for the failures (each
			// bounded by the breaker's 250 ms timeout).
			var before []time.Duration
			i := 0
			for c.Stats().Breaker != cache.BreakerOpen {
				if i == 10 {
					t.Fatalf("breaker not open after 10 calls: %+v", c.Stats())
				}
				before = append(before, timedCall(t, c, i))
				i++
			}
			const n = 100
			lat := make([]time.Duration, n)
			for j := range n {
				lat[j] = timedCall(t, c, i+j)
			}
			med := median(lat)
			if med > 20*time.Millisecond {
				t.Errorf("median latency per call with the breaker open: %v, want ≤ 20ms", med)
			}
			st := c.Stats()
			calls := uint64(i + n)
			if st.Misses != calls || st.Hits != 0 || st.Errors+st.Skipped != 2*calls || st.Errors < 3 || st.Skipped < 2*n {
				t.Errorf("Stats = %+v after %d calls; want %d misses, errors+skipped = %d (a read and a write per call), ≥ 3 errors, ≥ %d skipped", st, calls, calls, 2*calls, 2*n)
			}
			lines := strings.Count(logs.String(), "\n")
			if lines != 1 || !strings.Contains(logs.String(), "cache: store failed") {
				t.Errorf("%d log lines for %d failures within 10 s, want 1:\n%s", lines, st.Errors, logs.String())
			}
			t.Logf("%s: %d calls before the breaker opened: %v; then %d calls: median %v, max %v", tt.what, i, before, n, med, maxOf(lat))
			row(t, areaFleet, fmt.Sprintf("Redis outage, %s: latency per call through a memory + Redis cache, measured", tt.what),
				fmt.Sprintf("every call answered; breaker open after %d calls (failures bounded by its 250 ms timeout); then median %v, max %v per call over %d calls (without the breaker, measured once: 3.5 s a call down, 10 s hung); 1 log line (rate-limited); counters: %d misses, %d errors, %d skipped",
					i, med.Round(time.Microsecond), maxOf(lat).Round(time.Microsecond), n, st.Misses, st.Errors, st.Skipped))
		})
	}
}

// TestFleetRedisRecovers: a real redis-server is killed and started again;
// the breaker skips it while it is down and, probing, finds it back.
func TestFleetRedisRecovers(t *testing.T) {
	srv := redistest.Start(t)
	c, _ := fleetCache(t, srv.Addr, func(s cache.Store) cache.Store {
		return cache.NewBreaker(s, cache.WithBackoff(100*time.Millisecond, 400*time.Millisecond))
	})
	direct := redis.NewClient(&redis.Options{Addr: srv.Addr, MaxRetries: -1})
	defer direct.Close()
	stored := func(i int) bool {
		k, err := c.Key(fleetReq(i))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		n, _ := direct.Exists(ctx, rediscache.DefaultPrefix+k).Result()
		return n == 1
	}

	timedCall(t, c, 0)
	if !stored(0) {
		t.Fatal("with Redis up, the reply was not written to it")
	}
	srv.Stop()
	var down []time.Duration
	for i := 1; c.Stats().Breaker != cache.BreakerOpen; i++ {
		if i > 10 {
			t.Fatalf("breaker not open after 10 calls with Redis killed: %+v", c.Stats())
		}
		timedCall(t, c, i)
	}
	for i := range 50 {
		down = append(down, timedCall(t, c, 100+i))
	}
	srv.Restart()
	deadline := time.Now().Add(5 * time.Second)
	i := 200
	for c.Stats().Breaker != cache.BreakerClosed {
		if time.Now().After(deadline) {
			t.Fatalf("breaker not closed 5 s after Redis came back: %+v", c.Stats())
		}
		timedCall(t, c, i)
		i++
		time.Sleep(10 * time.Millisecond)
	}
	timedCall(t, c, 1000)
	if !stored(1000) {
		t.Error("after recovery, the reply was not written to Redis")
	}
	t.Logf("Redis killed: median %v, max %v per call; recovered after %d calls", median(down), maxOf(down), i-200)
	row(t, areaFleet, "Redis killed, then started again, under a memory + Redis cache",
		fmt.Sprintf("calls answered throughout (median %v per call while down); the breaker probes and closes once Redis is back, and replies are written to it again", median(down).Round(time.Microsecond)))
}

// sendTimes records when each request leaves a client.
type sendTimes struct {
	next http.RoundTripper
	mu   *sync.Mutex
	at   *[]time.Time
}

func (s sendTimes) RoundTrip(r *http.Request) (*http.Response, error) {
	s.mu.Lock()
	*s.at = append(*s.at, time.Now())
	s.mu.Unlock()
	return s.next.RoundTrip(r)
}

// maxInWindow returns the most times that fall in any half-open window of
// length d.
func maxInWindow(ts []time.Time, d time.Duration) int {
	s := slices.Clone(ts)
	slices.SortFunc(s, func(a, b time.Time) int { return a.Compare(b) })
	most, j := 0, 0
	for i := range s {
		for j < len(s) && s[j].Sub(s[i]) < d {
			j++
		}
		most = max(most, j-i)
	}
	return most
}

// TestFleetSharedQuota: 4 replicas, each with its own Redis client, HTTP
// client and lm.Limited, share one quota of 600 requests per window
// (redislimit). The window is 3 s instead of a minute, so the test runs in
// seconds: GCRA is the same at any scale. 1,024 calls in all: every one
// finishes, and no window of 3 s holds more than 600 sends (598 at
// admission; the limiter keeps one to spare for the delay to the send).
func TestFleetSharedQuota(t *testing.T) {
	addr := redistest.Addr(t)
	srv := dspytest.NewServer(dspytest.WithResponder(func(*dspytest.ChatRequest) dspytest.Answer {
		return dspytest.Answer{Text: "ok"}
	}))
	defer srv.Close()
	const (
		replicas, calls, quota = 4, 256, 600
		window                 = 3 * time.Second
	)
	name := "quota-test-" + redistest.Prefix(t, addr)
	var mu sync.Mutex
	var sent []time.Time
	var models []lm.LM
	for range replicas {
		rc := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true})
		t.Cleanup(func() { rc.Close() })
		q := redislimit.New(rc, name, redislimit.Limits{Requests: quota, Period: window}, redislimit.WithTimeout(time.Second))
		tr := &http.Transport{MaxIdleConnsPerHost: 64}
		t.Cleanup(tr.CloseIdleConnections)
		c := newClient(t, srv.URL(), openai.WithHTTPClient(&http.Client{Transport: sendTimes{tr, &mu, &sent}}))
		models = append(models, lm.Limit(c, lm.Limits{MaxInFlight: 16, Quota: q}))
	}
	start := time.Now()
	var wg sync.WaitGroup
	var failed atomic.Int64
	for _, m := range models {
		for range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range calls / 16 {
					r, err := m.Generate(t.Context(), &lm.Request{Messages: []lm.Message{{Role: lm.RoleUser, Content: "q"}}})
					if err != nil || r.Text() != "ok" {
						failed.Add(1)
					}
				}
			}()
		}
	}
	wg.Wait()
	took := time.Since(start)
	total := replicas * (calls / 16) * 16
	if n := failed.Load(); n != 0 {
		t.Fatalf("%d of %d calls failed", n, total)
	}
	if len(sent) != total || len(srv.Requests()) != total {
		t.Fatalf("%d requests sent, %d received, want %d (one per call)", len(sent), len(srv.Requests()), total)
	}
	most := maxInWindow(sent, window)
	if most > quota {
		t.Errorf("%d requests sent in one window of %v, quota %d", most, window, quota)
	}
	// The quota is used, not only respected: 1,014 calls at 589 per
	// window after a burst of 10 take about 5 s.
	if took < window {
		t.Errorf("%d calls took %v, less than one window: the quota did not hold them back", total, took)
	}
	t.Logf("%d calls from %d replicas in %v; at most %d sends in any %v window (quota %d)", total, replicas, took, most, window, quota)
	row(t, areaFleet, fmt.Sprintf("%d replicas sharing one quota of %d requests per window on Redis (`lm/redislimit`, window compressed from 1 min to %v), %d calls", replicas, quota, window, total),
		fmt.Sprintf("all %d calls finish, each sent once; at most %d requests sent in any %v window; %v in all", total, most, window, took.Round(10*time.Millisecond)))
}

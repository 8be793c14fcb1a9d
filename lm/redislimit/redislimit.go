// Package redislimit is an lm.Quota on Redis: one quota of requests and
// tokens per minute shared by every replica of a fleet, so that together
// they stay under a provider's rate limits. Give it to lm.Limits.Quota (or
// dspy.WithLimits). It is a package of its own so that programs that do not
// use Redis do not link a Redis client.
//
// The counting is github.com/go-redis/redis_rate's GCRA (generic cell rate
// algorithm), one Lua script call per admission on Redis's clock. While
// Redis cannot be reached, each replica falls back to a local limit (by
// default the whole quota; give WithFallback the replica's share) and logs
// a warning, at most once per 10 s; calls do not fail for it.
package redislimit

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
	"golang.org/x/time/rate"

	"github.com/godspy/dspy/lm"
)

// Defaults of a Limiter.
const (
	DefaultPrefix = "godspy:limit:"
	// DefaultTimeout bounds each call to Redis.
	DefaultTimeout = 100 * time.Millisecond
	// DefaultRetry is how long the local fallback is used after a failure
	// before Redis is tried again.
	DefaultRetry = time.Second
)

// Limits is a quota: at most Requests requests and Tokens tokens (prompt
// and completion) per Period (a minute when 0). A zero count is no limit.
type Limits struct {
	Requests int
	Tokens   int
	Period   time.Duration
}

// Limiter is an lm.Quota on Redis. It is safe for concurrent use.
//
// Requests: at most Limits.Requests requests start in any window of one
// Period, across the fleet. To keep that promise (a token bucket that may
// burst a whole period's worth allows twice as many in the first period),
// the bucket holds a sixtieth of the quota (a second's worth per minute)
// and refills at the rest less one: 600 a minute is a burst of 10 and 589
// a minute, so any minute admits at most 598, and the one to spare
// absorbs the delay between admission and sending.
//
// Tokens: a request takes its estimate (at most a period's worth) before
// it starts, and the tokens it used beyond it after; the shared bucket
// cannot go into debt, so what is left over when it is empty is not
// carried over (the local fallback does carry it).
type Limiter struct {
	rl       *redis_rate.Limiter
	reqKey   string
	tokKey   string
	requests redis_rate.Limit
	tokens   redis_rate.Limit
	timeout  time.Duration
	retry    time.Duration
	logger   *slog.Logger
	local    Limits        // the fallback's quota
	localReq *rate.Limiter // the fallback: local buckets while Redis is out
	localTok *rate.Limiter

	mu         sync.Mutex
	downUntil  time.Time
	lastLog    time.Time
	logged     bool
	suppressed int
}

var _ lm.Quota = (*Limiter)(nil)

// Option configures New.
type Option interface{ apply(*Limiter) }

type optionFunc func(*Limiter)

func (f optionFunc) apply(l *Limiter) { f(l) }

// WithPrefix sets the prefix of the Redis keys (default DefaultPrefix).
func WithPrefix(p string) Option { return optionFunc(func(l *Limiter) { l.reqKey = p }) }

// WithFallback sets the local limit each replica keeps to while Redis is
// out (default: the shared Limits themselves). A fleet of n replicas
// stays within the quota during an outage with a fallback of 1/n of it.
func WithFallback(lim Limits) Option { return optionFunc(func(l *Limiter) { l.local = lim }) }

// WithLogger sets where the fallback is reported (default slog.Default()).
func WithLogger(lg *slog.Logger) Option { return optionFunc(func(l *Limiter) { l.logger = lg }) }

// WithTimeout bounds each call to Redis (default DefaultTimeout).
func WithTimeout(d time.Duration) Option { return optionFunc(func(l *Limiter) { l.timeout = d }) }

// WithRetry sets how long the fallback is used after a failure before
// Redis is tried again (default DefaultRetry).
func WithRetry(d time.Duration) Option { return optionFunc(func(l *Limiter) { l.retry = d }) }

// New returns the quota named name (every replica that shares it uses the
// same name, e.g. the provider account and model) on client c. c should
// honour context deadlines (redis.Options.ContextTimeoutEnabled), so that
// the timeout bounds a call to a stalled server.
func New(c redis.UniversalClient, name string, lim Limits, opts ...Option) *Limiter {
	l := &Limiter{rl: redis_rate.NewLimiter(c), reqKey: DefaultPrefix, timeout: DefaultTimeout,
		retry: DefaultRetry, logger: slog.Default(), local: lim}
	for _, o := range opts {
		o.apply(l)
	}
	prefix := l.reqKey
	l.reqKey, l.tokKey = prefix+name+":requests", prefix+name+":tokens"
	period := lim.Period
	if period <= 0 {
		period = time.Minute
	}
	if lim.Requests > 0 {
		burst := max(1, lim.Requests/60)
		l.requests = redis_rate.Limit{Rate: max(1, lim.Requests-burst-1), Burst: burst, Period: period}
	}
	if lim.Tokens > 0 {
		l.tokens = redis_rate.Limit{Rate: lim.Tokens, Burst: lim.Tokens, Period: period}
	}
	lp := l.local.Period
	if lp <= 0 {
		lp = time.Minute
	}
	if l.local.Requests > 0 {
		burst := max(1, l.local.Requests/60)
		l.localReq = rate.NewLimiter(rate.Limit(float64(max(1, l.local.Requests-burst-1))/lp.Seconds()), burst)
	}
	if l.local.Tokens > 0 {
		l.localTok = rate.NewLimiter(rate.Limit(float64(l.local.Tokens)/lp.Seconds()), l.local.Tokens)
	}
	return l
}

// Wait implements lm.Quota: it takes the request's tokens, then a request,
// waiting as long as the quota says.
func (l *Limiter) Wait(ctx context.Context, tokens int) error {
	if !l.tokens.IsZero() && tokens > 0 {
		if err := l.take(ctx, l.tokKey, l.tokens, min(tokens, l.tokens.Burst)); err != nil {
			return err
		}
	}
	if !l.requests.IsZero() {
		if err := l.take(ctx, l.reqKey, l.requests, 1); err != nil {
			return err
		}
	}
	return nil
}

// take waits until n units of key may go; on a Redis failure it waits on
// the local fallback instead.
func (l *Limiter) take(ctx context.Context, key string, lim redis_rate.Limit, n int) error {
	for {
		if l.isDown() {
			return l.waitLocal(ctx, key == l.tokKey, n)
		}
		rctx, cancel := context.WithTimeout(ctx, l.timeout)
		res, err := l.rl.AllowN(rctx, key, lim, n)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			l.fail(ctx, err)
			continue
		}
		if res.Allowed > 0 {
			return nil
		}
		t := time.NewTimer(max(res.RetryAfter, time.Millisecond))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
}

// waitLocal waits on the fallback's bucket of the kind asked for.
func (l *Limiter) waitLocal(ctx context.Context, tokens bool, n int) error {
	b := l.localReq
	if tokens {
		b = l.localTok
	}
	if b == nil {
		return nil
	}
	n = min(n, b.Burst())
	if !tokens {
		n = 1
	}
	if err := b.WaitN(ctx, n); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		// The wait would outlast ctx's deadline: say so as ctx would.
		return fmt.Errorf("redislimit: %w (%v)", context.DeadlineExceeded, err)
	}
	return nil
}

// chargeLocal takes tokens from the fallback's bucket, into debt.
func (l *Limiter) chargeLocal(n int) {
	if l.localTok == nil {
		return
	}
	for n > 0 {
		k := min(n, l.localTok.Burst())
		l.localTok.ReserveN(time.Now(), k)
		n -= k
	}
}

// Charge implements lm.Quota.
func (l *Limiter) Charge(ctx context.Context, tokens int) {
	if l.tokens.IsZero() || tokens <= 0 {
		return
	}
	if l.isDown() {
		l.chargeLocal(tokens)
		return
	}
	rctx, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()
	if _, err := l.rl.AllowAtMost(rctx, l.tokKey, l.tokens, min(tokens, l.tokens.Burst)); err != nil {
		l.fail(ctx, err)
		l.chargeLocal(tokens)
	}
}

func (l *Limiter) isDown() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return time.Now().Before(l.downUntil)
}

// fail switches to the fallback for the retry period and logs it, at most
// once per 10 s.
func (l *Limiter) fail(ctx context.Context, err error) {
	l.mu.Lock()
	now := time.Now()
	l.downUntil = now.Add(l.retry)
	if l.logged && now.Sub(l.lastLog) < 10*time.Second {
		l.suppressed++
		l.mu.Unlock()
		return
	}
	n := l.suppressed
	l.lastLog, l.logged, l.suppressed = now, true, 0
	l.mu.Unlock()
	if l.logger != nil {
		l.logger.LogAttrs(ctx, slog.LevelWarn, "redislimit: Redis unreachable; using the local limit",
			slog.String("error", fmt.Sprint(err)), slog.Int("suppressed", n),
			slog.Int("requests", l.local.Requests), slog.Int("tokens", l.local.Tokens))
	}
}

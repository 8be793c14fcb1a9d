// Package cache caches LM replies: an lm.LM decorator (Wrap) over a Store,
// with an in-memory LRU (Memory), a directory that several processes can
// share (Disk), and a two-level store (Tiered). A Redis store for a fleet
// lives in package lm/cache/rediscache, so that importing this package does
// not link a Redis client.
//
// The key of a call is the SHA-256 of everything that can change the reply:
// provider, endpoint (the server's API root), model, messages, sampling
// parameters, stop sequences, seed, response format, tools, tool choice,
// Extra and RolloutID. Credentials (API keys, headers) are never part of it,
// so rotating a key keeps the cache; the endpoint is, so two
// OpenAI-compatible servers serving the same model name never answer for
// each other through a shared store. A hit has CacheHit set and zero Usage: no new tokens
// were spent. A streamed reply is stored once it has completed without
// error; a hit while streaming replays the stored reply as chunks.
//
// A store failure never fails a call. A remote store sits behind a Breaker
// (New does that for Config.Remote), which bounds each operation and skips
// the store while it keeps failing; LM.Stats counts hits, misses, failures
// and skipped operations, and failures are logged, rate-limited.
package cache

import (
	"context"
	"errors"
	"iter"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/godspy/dspy/lm"
)

// LM is an lm.LM that answers from a Store when it can and stores the
// replies of the LM it wraps. It is safe for concurrent use.
//
// A cache failure never fails a call: an unreadable store is a miss and a
// failed store write is dropped. Failures are counted (Stats), logged at
// Warn (WithLogger) at most once every 10 s per store with the number of
// failures left out since the last line, and each is told to the function
// of WithErrorFunc, if one is set.
type LM struct {
	m     lm.LM
	store Store
	cfg   config
	gate  logGate // for failures that did not come through a Breaker

	hits, misses, errs, skipped atomic.Uint64
}

type config struct {
	provider, model string
	identitySet     bool
	endpoint        string
	endpointSet     bool
	salt            string
	disabled        bool
	noReplay        bool
	chunkSize       int
	onErr           func(error)
	logger          *slog.Logger
	loggerSet       bool
}

// Option configures Wrap.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithIdentity sets the provider and model names that enter the key. By
// default they come from the wrapped LM (or an LM it wraps, through
// Unwrap) when it has methods Provider() string and Model() string. A
// request's own Model field wins over model.
func WithIdentity(provider, model string) Option {
	return optionFunc(func(c *config) { c.provider, c.model, c.identitySet = provider, model, true })
}

// WithEndpoint sets the server identity that enters the key: the API root
// the wrapped LM sends its requests to. By default it comes from the
// wrapped LM (lm.Endpoint). A trailing slash is ignored.
func WithEndpoint(baseURL string) Option {
	return optionFunc(func(c *config) { c.endpoint, c.endpointSet = baseURL, true })
}

// WithSalt adds s to every key. Use it for settings of the wrapped LM that
// change replies without appearing in the request, such as a default
// temperature set on the client: LMs with different salts share no
// entries.
func WithSalt(s string) Option { return optionFunc(func(c *config) { c.salt = s }) }

// WithoutCaching turns caching off for this LM: every call goes to the wrapped
// LM and nothing is stored.
func WithoutCaching() Option { return optionFunc(func(c *config) { c.disabled = true }) }

// WithoutReplay makes a streamed hit arrive as a single chunk (plus the
// final chunk with the finish reason) instead of being cut into pieces.
func WithoutReplay() Option { return optionFunc(func(c *config) { c.noReplay = true }) }

// WithReplayChunkSize sets the size in bytes of the chunks a streamed hit
// is replayed in (default 16; whole runes).
func WithReplayChunkSize(n int) Option { return optionFunc(func(c *config) { c.chunkSize = n }) }

// WithErrorFunc sets a function told about every store failure (which do
// not fail calls), operations a Breaker skipped (ErrBreakerOpen) included,
// without rate limit. It may be called from several goroutines at once.
func WithErrorFunc(f func(error)) Option { return optionFunc(func(c *config) { c.onErr = f }) }

// WithLogger sets the logger that store failures are logged to, at Warn
// and rate-limited (default slog.Default()); nil turns the logging off.
// Records are logged with the context of the call that met the failure.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) { c.logger, c.loggerSet = l, true })
}

// DefaultReplayChunkSize is the size of replayed chunks unless
// WithReplayChunkSize says otherwise.
const DefaultReplayChunkSize = 16

// Wrap returns m with its replies cached in store.
func Wrap(m lm.LM, store Store, opts ...Option) *LM {
	c := &LM{m: m, store: store, cfg: config{chunkSize: DefaultReplayChunkSize}}
	for _, o := range opts {
		o.apply(&c.cfg)
	}
	if !c.cfg.identitySet {
		c.cfg.provider, c.cfg.model = lm.Identify(m)
	}
	if !c.cfg.endpointSet {
		c.cfg.endpoint = lm.Endpoint(m)
	}
	c.cfg.endpoint = strings.TrimRight(c.cfg.endpoint, "/")
	if !c.cfg.loggerSet {
		c.cfg.logger = slog.Default()
	}
	return c
}

// Unwrap returns the wrapped LM.
func (c *LM) Unwrap() lm.LM { return c.m }

// Store returns the cache's store.
func (c *LM) Store() Store { return c.store }

// Provider returns the provider name used in keys.
func (c *LM) Provider() string { return c.cfg.provider }

// Model returns the model name used in keys when a request names none.
func (c *LM) Model() string { return c.cfg.model }

// Key returns the cache key of req: a lowercase hex SHA-256. It fails only
// for Extra, tool parameters or a response schema that JSON cannot encode;
// such a call bypasses the cache.
func (c *LM) Key(req *lm.Request) (string, error) {
	return requestKey(c.cfg.provider, c.cfg.endpoint, c.cfg.model, c.cfg.salt, req)
}

// Stats counts what a cache LM did since Wrap.
type Stats struct {
	// Hits and Misses count lookups: a miss went to the wrapped LM (also
	// after a failed or skipped read). Calls that bypass the cache
	// (Request.NoCache, WithoutCaching) are neither.
	Hits, Misses uint64
	// Errors counts failures: store reads and writes, entries that did not
	// decode, requests that could not be keyed.
	Errors uint64
	// Skipped counts store operations (reads and writes) that a Breaker
	// did not try because it was open.
	Skipped uint64
	// Breaker is the state of the store's breaker (the worst one's, when
	// levels of a Tiered store have several), or BreakerNone.
	Breaker BreakerState
}

// Stats returns the LM's counters. It is safe to call at any time.
func (c *LM) Stats() Stats {
	return Stats{Hits: c.hits.Load(), Misses: c.misses.Load(), Errors: c.errs.Load(),
		Skipped: c.skipped.Load(), Breaker: breakerState(c.store)}
}

// logInterval is the least time between two log lines about one store.
const logInterval = 10 * time.Second

func (c *LM) report(ctx context.Context, err error) {
	if err == nil {
		return
	}
	if c.cfg.onErr != nil {
		c.cfg.onErr(err)
	}
	if errors.Is(err, ErrBreakerOpen) {
		c.skipped.Add(1)
		if onlySkipped(err) {
			return
		}
	}
	c.errs.Add(1)
	if c.cfg.logger == nil {
		return
	}
	gate, state := &c.gate, breakerState(c.store)
	var be *breakerError
	if errors.As(err, &be) {
		gate, state = &be.b.gate, be.b.State()
	}
	ok, suppressed := gate.admit(time.Now())
	if !ok {
		return
	}
	c.cfg.logger.LogAttrs(ctx, slog.LevelWarn, "cache: store failed; calls go on without it",
		slog.Any("error", err), slog.Int("suppressed", suppressed), slog.String("breaker", state.String()))
}

// onlySkipped reports whether every error in err's tree is a skip.
func onlySkipped(err error) bool {
	switch e := err.(type) {
	case interface{ Unwrap() []error }:
		for _, x := range e.Unwrap() {
			if !onlySkipped(x) {
				return false
			}
		}
		return true
	case *breakerError:
		return e.err == ErrBreakerOpen
	}
	return errors.Is(err, ErrBreakerOpen)
}

// logGate lets through at most one log line per logInterval and counts
// the others.
type logGate struct {
	mu         sync.Mutex
	last       time.Time
	logged     bool
	suppressed int
}

// admit reports whether a line may be logged now and, if so, how many were
// held back since the last one.
func (g *logGate) admit(now time.Time) (bool, int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.logged && now.Sub(g.last) < logInterval {
		g.suppressed++
		return false, 0
	}
	n := g.suppressed
	g.last, g.logged, g.suppressed = now, true, 0
	return true, n
}

// key returns the key of req, or "" when req must bypass the cache.
func (c *LM) key(ctx context.Context, req *lm.Request) string {
	if c.cfg.disabled || req.NoCache || c.store == nil {
		return ""
	}
	k, err := c.Key(req)
	if err != nil {
		c.report(ctx, err)
		return ""
	}
	return k
}

// lookup returns the stored response of key, marked as a hit.
func (c *LM) lookup(ctx context.Context, key string) *lm.Response {
	r := c.get(ctx, key)
	if r != nil {
		c.hits.Add(1)
	} else {
		c.misses.Add(1)
	}
	return r
}

func (c *LM) get(ctx context.Context, key string) *lm.Response {
	b, ok, err := c.store.Get(ctx, key)
	if err != nil {
		c.report(ctx, err)
		return nil
	}
	if !ok {
		return nil
	}
	r, err := DecodeResponse(b)
	if err != nil {
		c.report(ctx, err)
		return nil
	}
	r.Usage = lm.Usage{}
	r.CacheHit = true
	return r
}

// save stores r under key. It runs after the reply is complete, so the
// caller's cancellation (which may come right after) does not stop it.
func (c *LM) save(ctx context.Context, key string, r *lm.Response) {
	ctx = context.WithoutCancel(ctx)
	c.report(ctx, c.store.Set(ctx, key, EncodeResponse(r)))
}

// Generate answers from the cache, or calls the wrapped LM and stores its
// successful reply.
func (c *LM) Generate(ctx context.Context, req *lm.Request) (*lm.Response, error) {
	key := c.key(ctx, req)
	if key == "" {
		return c.m.Generate(ctx, req)
	}
	if r := c.lookup(ctx, key); r != nil {
		return r, nil
	}
	r, err := c.m.Generate(ctx, req)
	if err == nil && r != nil {
		c.save(ctx, key, r)
	}
	return r, err
}

// Stream replays a cached reply as chunks (with CacheHit set), or streams
// the wrapped LM's reply through while assembling it, and stores it once
// the stream has ended without error. A consumer that stops early stops
// the wrapped stream, and nothing is stored.
func (c *LM) Stream(ctx context.Context, req *lm.Request) iter.Seq2[lm.Chunk, error] {
	return func(yield func(lm.Chunk, error) bool) {
		key := c.key(ctx, req)
		if key == "" {
			for ch, err := range c.m.Stream(ctx, req) {
				if !yield(ch, err) {
					return
				}
			}
			return
		}
		if r := c.lookup(ctx, key); r != nil {
			size := c.cfg.chunkSize
			if c.cfg.noReplay {
				size = 0
			}
			for ch, err := range lm.StreamFromResponse(ctx, r, size) {
				ch.CacheHit = err == nil
				if !yield(ch, err) {
					return
				}
			}
			return
		}
		var acc lm.Accumulator
		for ch, err := range c.m.Stream(ctx, req) {
			if err != nil {
				yield(ch, err)
				return
			}
			acc.Add(ch)
			if !yield(ch, nil) {
				return
			}
		}
		if ctx.Err() != nil {
			return // the stream may have been cut short by cancellation
		}
		r := acc.Response()
		c.save(ctx, key, &r)
	}
}

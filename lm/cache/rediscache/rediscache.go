// Package rediscache is a cache.Store on Redis, for a fleet of services
// that share one LM cache. It is a package of its own so that programs that
// do not use Redis do not link a Redis client.
package rediscache

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/godspy/dspy/lm/cache"
)

// DefaultTTL is how long an entry lives unless WithTTL says otherwise.
const DefaultTTL = 7 * 24 * time.Hour

// DefaultPrefix is put before every key unless WithPrefix says otherwise.
const DefaultPrefix = "godspy:lm:"

// Store is a cache.Store on a Redis server or cluster. Entries expire after
// a TTL. It is safe for concurrent use.
//
// Alone, a Store makes every lookup wait for the client's dial and read
// timeouts (with its retries: about 1.7 s against a closed port) while the
// server is down. Give it to cache.Config.Remote, or wrap it with
// cache.NewBreaker, so that each operation is bounded by a short timeout
// and an outage is skipped after a few failures. That timeout reaches the
// server only through the context: Open's clients honour it; a client
// given to New needs redis.Options.ContextTimeoutEnabled for it to cut a
// stalled read short.
type Store struct {
	c      redis.UniversalClient
	ttl    time.Duration
	prefix string
	owned  bool
}

var _ cache.Store = (*Store)(nil)

// Option configures New and Open.
type Option interface{ apply(*Store) }

type optionFunc func(*Store)

func (f optionFunc) apply(s *Store) { f(s) }

// WithTTL sets how long entries live (default DefaultTTL); 0 means they do
// not expire (rely on the server's eviction policy).
func WithTTL(d time.Duration) Option { return optionFunc(func(s *Store) { s.ttl = d }) }

// WithPrefix sets the prefix of the Redis keys (default DefaultPrefix), so
// that several caches can share one database.
func WithPrefix(p string) Option { return optionFunc(func(s *Store) { s.prefix = p }) }

// New returns a Store on an existing client. Close does not close it.
func New(c redis.UniversalClient, opts ...Option) *Store {
	s := &Store{c: c, ttl: DefaultTTL, prefix: DefaultPrefix}
	for _, o := range opts {
		o.apply(s)
	}
	return s
}

// Open connects to the server at rawURL ("redis://[:password@]host:port/db",
// "rediss://..." for TLS, or "unix:///path"). The connection is made
// lazily, on the first call; Close releases it. The client honours the
// deadlines of the contexts it is given (ContextTimeoutEnabled), so that
// cache.Breaker's timeout bounds a call to a stalled server.
func Open(rawURL string, opts ...Option) (*Store, error) {
	o, err := redis.ParseURL(rawURL)
	if err != nil {
		// A *url.Error repeats the URL, which may hold a password: keep
		// only its cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("rediscache: bad Redis URL: %w", err)
	}
	o.ContextTimeoutEnabled = true
	s := New(redis.NewClient(o), opts...)
	s.owned = true
	return s, nil
}

// Ping checks that the server answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.c.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("rediscache: ping: %w", err)
	}
	return nil
}

// Get implements cache.Store.
func (s *Store) Get(ctx context.Context, key string) ([]byte, bool, error) {
	b, err := s.c.Get(ctx, s.prefix+key).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("rediscache: get: %w", err)
	}
	return b, true, nil
}

// Set implements cache.Store.
func (s *Store) Set(ctx context.Context, key string, value []byte) error {
	if err := s.c.Set(ctx, s.prefix+key, value, s.ttl).Err(); err != nil {
		return fmt.Errorf("rediscache: set: %w", err)
	}
	return nil
}

// Close closes the client if Open made it.
func (s *Store) Close() error {
	if !s.owned {
		return nil
	}
	return s.c.Close()
}

package redisresume_test

import (
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/godspy/dspy/internal/redistest"
	"github.com/godspy/dspy/streaming/resume"
	"github.com/godspy/dspy/streaming/resume/redisresume"
	"github.com/godspy/dspy/streaming/resume/resumetest"
)

// newStore returns a store on the test server under a fresh prefix.
func newStore(t testing.TB, opts ...redisresume.Option) *redisresume.Store {
	t.Helper()
	addr := redistest.Addr(t)
	c := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true, PoolSize: 256})
	s := redisresume.New(c, append([]redisresume.Option{redisresume.WithPrefix(redistest.Prefix(t, addr))}, opts...)...)
	t.Cleanup(func() {
		s.Close()
		c.Close()
	})
	return s
}

func TestConformance(t *testing.T) {
	resumetest.Run(t, func(t *testing.T, cfg resumetest.Config) resume.Store {
		return newStore(t, redisresume.WithLease(cfg.Lease), redisresume.WithTTL(cfg.TTL))
	})
}

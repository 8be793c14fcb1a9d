package cache_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/godspy/dspy/dspytest"
	"github.com/godspy/dspy/lm"
	"github.com/godspy/dspy/lm/cache"
	"github.com/godspy/dspy/lm/cache/rediscache"
)

// BenchmarkHit measures a cache hit of a 4 KiB reply through cache.LM's
// Generate (key hashing, store lookup, decoding) for each store.
func BenchmarkHit(b *testing.B) {
	reply := strings.Repeat("All work and no play makes Jack a dull boy. ", 4096/44+1)[:4096]
	req := &lm.Request{Messages: []lm.Message{
		{Role: lm.RoleSystem, Content: strings.Repeat("Your input fields are: question. ", 20)},
		{Role: lm.RoleUser, Content: "[[ ## question ## ]]\nWhat is the capital of France?"},
	}}
	stores := []struct {
		name string
		open func(b *testing.B) cache.Store
	}{
		{"memory", func(*testing.B) cache.Store { return cache.NewMemory(1000, 0) }},
		{"disk", func(b *testing.B) cache.Store {
			d, err := cache.NewDisk(b.TempDir(), 0)
			if err != nil {
				b.Fatal(err)
			}
			return d
		}},
		{"redis", func(b *testing.B) cache.Store {
			addr := os.Getenv("DSPY_TEST_REDIS")
			if addr == "" {
				b.Skip("set DSPY_TEST_REDIS=host:port to benchmark the Redis store")
			}
			c := redis.NewClient(&redis.Options{Addr: addr})
			b.Cleanup(func() { c.Close() })
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			if err := c.Ping(ctx).Err(); err != nil {
				b.Skipf("Redis at %s unreachable: %v", addr, err)
			}
			return rediscache.New(c, rediscache.WithPrefix("godspy-bench:"), rediscache.WithTTL(time.Minute))
		}},
	}
	for _, s := range stores {
		b.Run(s.name, func(b *testing.B) {
			m := cache.Wrap(dspytest.Repeat(reply), s.open(b))
			ctx := context.Background()
			if _, err := m.Generate(ctx, req); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.SetBytes(int64(len(reply)))
			for b.Loop() {
				r, err := m.Generate(ctx, req)
				if err != nil || !r.CacheHit {
					b.Fatalf("not a hit: %v", err)
				}
			}
		})
	}
}

package rediscache_test

import (
	"context"
	"crypto/rand"
	"fmt"
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

// redisAddr returns the address of the test server from DSPY_TEST_REDIS.
// Outside CI a missing or unreachable server skips the test; in CI
// (CI=true), where .ci/setup.d/10-redis.sh starts one, it fails it.
func redisAddr(t testing.TB) string {
	t.Helper()
	inCI := os.Getenv("CI") == "true"
	addr := os.Getenv("DSPY_TEST_REDIS")
	if addr == "" {
		if inCI {
			t.Fatal("DSPY_TEST_REDIS is not set in CI: .ci/setup.d/10-redis.sh should start redis-server and set it")
		}
		t.Skip("no Redis server to test against: set DSPY_TEST_REDIS=host:port (e.g. 127.0.0.1:6379) to run the Redis store tests")
	}
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		if inCI {
			t.Fatalf("Redis server at DSPY_TEST_REDIS=%s unreachable in CI: %v", addr, err)
		}
		t.Skipf("Redis server at DSPY_TEST_REDIS=%s unreachable, skipping: %v", addr, err)
	}
	return addr
}

// testStore returns a store on the test server under a fresh prefix, whose
// keys are deleted when the test ends.
func testStore(t testing.TB, opts ...rediscache.Option) (*rediscache.Store, *redis.Client, string) {
	t.Helper()
	addr := redisAddr(t)
	prefix := "godspy-test:" + rand.Text()[:12] + ":"
	c := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() {
		ctx := context.Background()
		keys, _ := c.Keys(ctx, prefix+"*").Result()
		if len(keys) > 0 {
			c.Del(ctx, keys...)
		}
		c.Close()
	})
	return rediscache.New(c, append([]rediscache.Option{rediscache.WithPrefix(prefix)}, opts...)...), c, prefix
}

func TestStoreGetSet(t *testing.T) {
	s, c, prefix := testStore(t)
	ctx := t.Context()
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := s.Get(ctx, "k1"); ok || err != nil || v != nil {
		t.Fatalf("empty: Get = %q, %v, %v", v, ok, err)
	}
	val := []byte("hello\x00world")
	if err := s.Set(ctx, "k1", val); err != nil {
		t.Fatal(err)
	}
	v, ok, err := s.Get(ctx, "k1")
	if !ok || err != nil || string(v) != string(val) {
		t.Fatalf("Get = %q, %v, %v", v, ok, err)
	}
	ttl, err := c.TTL(ctx, prefix+"k1").Result()
	if err != nil || ttl <= rediscache.DefaultTTL-time.Minute || ttl > rediscache.DefaultTTL {
		t.Errorf("TTL = %v, %v; want about %v", ttl, err, rediscache.DefaultTTL)
	}
}

func TestStoreTTL(t *testing.T) {
	s, c, prefix := testStore(t, rediscache.WithTTL(150*time.Millisecond))
	ctx := t.Context()
	if err := s.Set(ctx, "short", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if ttl, _ := c.PTTL(ctx, prefix+"short").Result(); ttl <= 0 || ttl > 150*time.Millisecond {
		t.Errorf("PTTL = %v, want (0, 150ms]", ttl)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, ok, err := s.Get(ctx, "short")
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("entry did not expire")
		}
		time.Sleep(50 * time.Millisecond)
	}

	forever, c2, p2 := testStore(t, rediscache.WithTTL(0))
	forever.Set(ctx, "k", []byte("v"))
	if ttl, _ := c2.TTL(ctx, p2+"k").Result(); ttl != -1 {
		t.Errorf("WithTTL(0): TTL = %v, want -1 (no expiry)", ttl)
	}
}

// TestSharedByAFleet: two replicas, each with its own client and a memory
// level in front, share replies through Redis.
func TestSharedByAFleet(t *testing.T) {
	addr := redisAddr(t)
	prefix := "godspy-test:" + rand.Text()[:12] + ":"
	ctx := t.Context()
	var replicas []*cache.LM
	var inner []*dspytest.ScriptedLM
	for range 2 {
		r, err := rediscache.Open("redis://"+addr+"/0", rediscache.WithPrefix(prefix), rediscache.WithTTL(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		store, err := cache.New(cache.Config{Memory: true, Remote: r})
		if err != nil {
			t.Fatal(err)
		}
		m := dspytest.Repeat("the answer")
		inner = append(inner, m)
		replicas = append(replicas, cache.Wrap(m, store, cache.WithIdentity("openai", "m")))
	}
	req := &lm.Request{Messages: []lm.Message{{Role: lm.RoleUser, Content: "q"}}}
	if r, err := replicas[0].Generate(ctx, req); err != nil || r.CacheHit {
		t.Fatalf("replica 0: %+v, %v", r, err)
	}
	r, err := replicas[1].Generate(ctx, req)
	if err != nil || !r.CacheHit || r.Text() != "the answer" {
		t.Fatalf("replica 1: %+v, %v; want a hit", r, err)
	}
	if n := len(inner[1].Requests()); n != 0 {
		t.Errorf("replica 1 called its LM %d times", n)
	}
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	keys, _ := c.Keys(ctx, prefix+"*").Result()
	if len(keys) != 1 {
		t.Errorf("keys under the prefix: %v", keys)
	}
	if len(keys) > 0 {
		c.Del(ctx, keys...)
	}
}

func TestOpenBadURLHidesPassword(t *testing.T) {
	for _, u := range []string{"redis://:s3cret-pw@host:6379/x", "http://:s3cret-pw@host", "redis://:s3cret-pw@ho st:1/0", "redis://:s3cret-pw@h:%zz/0"} {
		_, err := rediscache.Open(u)
		if err == nil {
			t.Errorf("Open(%q): no error", u)
			continue
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("Open(%q) error shows the password: %v", u, err)
		}
	}
}

func TestUnreachableServerIsAnError(t *testing.T) {
	s, err := rediscache.Open("redis://127.0.0.1:1/0?max_retries=-1&dial_timeout=200ms")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, _, err := s.Get(ctx, "k"); err == nil {
		t.Error("Get on a closed port: no error")
	}
	// Through the cache, a store failure is a miss, not a failed call.
	var reported error
	m := cache.Wrap(dspytest.Repeat("ok"), s, cache.WithErrorFunc(func(err error) { reported = err }))
	r, err := m.Generate(ctx, &lm.Request{Messages: []lm.Message{{Role: lm.RoleUser, Content: "q"}}})
	if err != nil || r.Text() != "ok" {
		t.Fatalf("Generate = %+v, %v", r, err)
	}
	if reported == nil {
		t.Error("the store failure was not reported")
	}
}

func ExampleOpen() {
	r, err := rediscache.Open("redis://127.0.0.1:6379/0", rediscache.WithTTL(24*time.Hour))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Close()
	// Memory in front of Redis: replicas share replies, each keeps hot ones.
	store, _ := cache.New(cache.Config{Memory: true, Remote: r})
	_ = cache.Wrap(dspytest.Repeat("hi"), store)
}

package dspy

import (
	"fmt"
	"strings"

	"github.com/godspy/dspy/lm"
	"github.com/godspy/dspy/lm/cache"
	"github.com/godspy/dspy/lm/history"
)

// Bounds of the memory cache NewLM gives each LM when WithCache is not
// used.
const (
	defaultLMCacheEntries = 1_000
	defaultLMCacheBytes   = 64 << 20
)

type cacheOption struct{ s cache.Store }

func (o cacheOption) applyLM(c *lmConfig) { c.cache, c.cacheSet = o.s, true }

// WithCache sets the store NewLM's LM caches its replies in; nil turns
// caching off. Without this option each LM has its own in-memory LRU of
// 1,000 replies and 64 MiB. To share a cache between LMs, or between
// processes (disk) or machines (Redis), build one store and give it to
// every NewLM:
//
//	store, err := cache.New(cache.Config{Memory: true, Disk: true})
//	m, err := dspy.NewLM("openai/gpt-4o-mini", dspy.WithCache(store))
//
// Keys include the provider and model, so LMs can share a store. A single
// call skips the cache with lm.Request.NoCache; a fresh sample of an
// otherwise identical call needs a different lm.Request.RolloutID.
func WithCache(s cache.Store) LMOption { return cacheOption{s} }

// decorate wraps a provider's LM with the cache and the per-LM history of
// cfg: history outside (it sees hits and their latency), then the cache
// (a hit takes no rate-limit capacity), then m.
func decorate(m lm.LM, cfg *lmConfig, provider, model string) lm.LM {
	store := cfg.cache
	if !cfg.cacheSet {
		store = cache.NewMemory(defaultLMCacheEntries, defaultLMCacheBytes)
	}
	if store != nil {
		m = cache.Wrap(m, store, cache.WithIdentity(provider, model), cache.WithSalt(lmSalt(cfg)))
	}
	if cfg.history != nil {
		m = history.Record(m, cfg.history)
	}
	return m
}

// lmSalt names the LM-level request defaults that change replies, so that
// two LMs that differ only in them share no cache entries.
func lmSalt(cfg *lmConfig) string {
	var parts []string
	if cfg.temperature != nil {
		parts = append(parts, fmt.Sprintf("temperature=%v", *cfg.temperature))
	}
	if cfg.maxTokens > 0 {
		parts = append(parts, fmt.Sprintf("max_tokens=%d", cfg.maxTokens))
	}
	return strings.Join(parts, ";")
}

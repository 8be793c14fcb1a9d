package dspy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/godspy/dspy/lm"
	"github.com/godspy/dspy/lm/anthropic"
	"github.com/godspy/dspy/lm/cache"
	"github.com/godspy/dspy/lm/history"
	"github.com/godspy/dspy/lm/openai"
)

// ErrUnknownProvider is wrapped by NewLM for a provider prefix it does not
// know; the error lists the known ones.
var ErrUnknownProvider = errors.New("dspy: unknown LM provider")

// ErrMissingAPIKey is wrapped by NewLM when a provider needs a key and
// neither WithAPIKey nor the provider's environment variable gives one; the
// error names the variable. An LM pointed at a base URL other than the
// provider's own (WithBaseURL, or the provider's base-URL variable) needs
// no key: a local server usually has none, and then none is sent.
var ErrMissingAPIKey = errors.New("dspy: missing API key")

// ErrNoLMInEnv is returned by LMFromEnv when the environment names no LM,
// so that a program can fall back to another (an offline one, say).
var ErrNoLMInEnv = errors.New("dspy: the environment names no LM: set DSPY_LM (e.g. openai/gpt-4o-mini, ollama_chat/llama3.2) or a provider's API key (OPENAI_API_KEY, ANTHROPIC_API_KEY, ...)")

// envDefaults maps a provider's key variable to the model LMFromEnv uses
// when only the key is set, in the order they are tried.
var envDefaults = [...]struct{ env, model string }{
	{"OPENAI_API_KEY", "openai/gpt-4o-mini"},
	{"ANTHROPIC_API_KEY", "anthropic/claude-sonnet-4-5"},
	{"GEMINI_API_KEY", "gemini/gemini-2.5-flash"},
	{"GROQ_API_KEY", "groq/llama-3.3-70b-versatile"},
	{"OPENROUTER_API_KEY", "openrouter/openai/gpt-4o-mini"},
	{"DEEPSEEK_API_KEY", "deepseek/deepseek-chat"},
}

// LMNameFromEnv returns the name of the LM the environment asks for, and
// the variable that said so: DSPY_LM when it is set, else the default model
// of the first provider whose API key is set — OPENAI_API_KEY
// (openai/gpt-4o-mini), ANTHROPIC_API_KEY (anthropic/claude-sonnet-4-5),
// GEMINI_API_KEY (gemini/gemini-2.5-flash), GROQ_API_KEY
// (groq/llama-3.3-70b-versatile), OPENROUTER_API_KEY
// (openrouter/openai/gpt-4o-mini), DEEPSEEK_API_KEY (deepseek/deepseek-chat)
// — else "", "".
func LMNameFromEnv() (name, from string) {
	if name := os.Getenv("DSPY_LM"); name != "" {
		return name, "DSPY_LM"
	}
	for _, d := range envDefaults {
		if os.Getenv(d.env) != "" {
			return d.model, d.env
		}
	}
	return "", ""
}

// LMFromEnv returns NewLM(name, opts...) for the LM the environment asks
// for (see LMNameFromEnv), or ErrNoLMInEnv when it asks for none:
//
//	model, err := dspy.LMFromEnv()
//	if errors.Is(err, dspy.ErrNoLMInEnv) {
//		model, err = offline, nil // e.g. a dspytest.ScriptedLM
//	}
func LMFromEnv(opts ...LMOption) (lm.LM, error) {
	name, _ := LMNameFromEnv()
	if name == "" {
		return nil, ErrNoLMInEnv
	}
	return NewLM(name, opts...)
}

// LMOption configures NewLM. Besides the options below, NewLM takes
// WithTemperature and WithMaxTokens (RequestOption: the LM's defaults) and
// WithLMHistory (LMHistoryOption: the LM's own history).
type LMOption interface{ applyLM(*lmConfig) }

type lmOptionFunc func(*lmConfig)

func (f lmOptionFunc) applyLM(c *lmConfig) { f(c) }

type lmConfig struct {
	idle        time.Duration // WithIdleTimeout; 0: the provider's default
	timeout     time.Duration // WithTimeout
	baseURL     string
	apiKey      string
	hc          *http.Client
	temperature *float64
	maxTokens   int
	limits      *lm.Limits
	retry       *lm.RetryPolicy
	cache       cache.Store      // WithCache (lmcache.go)
	cacheSet    bool             // WithCache was given; nil turns caching off
	history     *history.History // WithLMHistory (lmhistory.go)
}

// WithBaseURL overrides the provider's API root (and its *_BASE_URL
// variable), e.g. a vLLM or llama.cpp server's "http://host:8000/v1".
func WithBaseURL(u string) LMOption { return lmOptionFunc(func(c *lmConfig) { c.baseURL = u }) }

// WithAPIKey sets the API key instead of reading the provider's variable.
func WithAPIKey(key string) LMOption { return lmOptionFunc(func(c *lmConfig) { c.apiKey = key }) }

// WithHTTPClient sets the HTTP client (proxies, TLS, tests).
func WithHTTPClient(hc *http.Client) LMOption {
	return lmOptionFunc(func(c *lmConfig) { c.hc = hc })
}

// WithIdleTimeout bounds how long a streamed reply may be silent: from the
// request to its response headers, and between any two bytes of the stream
// (keep-alive comments count). A stall ends the stream with
// lm.ErrStreamIdle, what arrived kept. The default is 60 s
// (openai.DefaultIdleTimeout); a negative d waits as long as the context
// allows. A model that thinks silently for longer before its first token
// needs a longer one.
func WithIdleTimeout(d time.Duration) LMOption {
	return lmOptionFunc(func(c *lmConfig) { c.idle = d })
}

// WithTimeout bounds a whole blocking call (Generate), retries and their
// waits included; it then fails with context.DeadlineExceeded. The default
// is 10 min (openai.DefaultTimeout); a negative d has no bound but the
// context's. Streams are bounded by WithIdleTimeout instead.
func WithTimeout(d time.Duration) LMOption {
	return lmOptionFunc(func(c *lmConfig) { c.timeout = d })
}

// WithLimits bounds requests in flight and requests and tokens per minute;
// NewLM then puts an *lm.Limited around the provider (inside the cache).
func WithLimits(l lm.Limits) LMOption { return lmOptionFunc(func(c *lmConfig) { c.limits = &l }) }

// WithRetry sets the retry policy (the default retries twice; lm.NoRetry()
// never does).
func WithRetry(p lm.RetryPolicy) LMOption { return lmOptionFunc(func(c *lmConfig) { c.retry = &p }) }

// preset is an OpenAI-compatible provider: its name in errors, default API
// root and the variables that hold its key and root.
type preset struct {
	provider string
	baseURL  string
	keyEnv   string // "" when no key is needed
	baseEnv  string
	// keyOptional: send the key if set, do not require it.
	keyOptional bool
	// needsBase: no default root; one must be given.
	needsBase bool
	maxField  string
}

var presets = map[string]preset{
	"openai":       {provider: "openai", baseURL: openai.DefaultBaseURL, keyEnv: "OPENAI_API_KEY", baseEnv: "OPENAI_BASE_URL", maxField: "max_completion_tokens"},
	"ollama_chat":  {provider: "ollama", baseURL: "http://localhost:11434/v1", keyEnv: "OLLAMA_API_KEY", baseEnv: "OLLAMA_API_BASE", keyOptional: true},
	"hosted_vllm":  {provider: "vllm", keyEnv: "HOSTED_VLLM_API_KEY", baseEnv: "HOSTED_VLLM_API_BASE", keyOptional: true, needsBase: true},
	"openrouter":   {provider: "openrouter", baseURL: "https://openrouter.ai/api/v1", keyEnv: "OPENROUTER_API_KEY", baseEnv: "OPENROUTER_API_BASE"},
	"groq":         {provider: "groq", baseURL: "https://api.groq.com/openai/v1", keyEnv: "GROQ_API_KEY", baseEnv: "GROQ_API_BASE"},
	"together_ai":  {provider: "together_ai", baseURL: "https://api.together.xyz/v1", keyEnv: "TOGETHERAI_API_KEY", baseEnv: "TOGETHERAI_API_BASE"},
	"deepseek":     {provider: "deepseek", baseURL: "https://api.deepseek.com/v1", keyEnv: "DEEPSEEK_API_KEY", baseEnv: "DEEPSEEK_API_BASE"},
	"fireworks_ai": {provider: "fireworks_ai", baseURL: "https://api.fireworks.ai/inference/v1", keyEnv: "FIREWORKS_AI_API_KEY", baseEnv: "FIREWORKS_AI_API_BASE"},
	"gemini":       {provider: "gemini", baseURL: "https://generativelanguage.googleapis.com/v1beta/openai", keyEnv: "GEMINI_API_KEY", baseEnv: "GEMINI_API_BASE"},
	"azure":        {provider: "azure", keyEnv: "AZURE_API_KEY", baseEnv: "AZURE_API_BASE", needsBase: true, maxField: "max_completion_tokens"},
	"anthropic":    {provider: "anthropic", baseURL: anthropic.DefaultBaseURL, keyEnv: "ANTHROPIC_API_KEY", baseEnv: "ANTHROPIC_BASE_URL"},
}

// defaultAzureAPIVersion is sent when AZURE_API_VERSION is not set.
const defaultAzureAPIVersion = "2024-10-21"

// knownProviders returns the provider prefixes NewLM accepts, sorted.
func knownProviders() []string {
	names := make([]string, 0, len(presets))
	for k := range presets {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

// NewLM returns the LM named "provider/model", LiteLLM style:
// "openai/gpt-4o-mini", "anthropic/claude-sonnet-4-5",
// "ollama_chat/llama3.1", "hosted_vllm/meta-llama/Llama-3.1-8B-Instruct"
// (the model may contain slashes). Each provider has a default API root and
// reads its key from an environment variable (OPENAI_API_KEY,
// ANTHROPIC_API_KEY, GROQ_API_KEY, ...); options override both. The root
// can also be set by the provider's base-URL variable (OPENAI_BASE_URL,
// ANTHROPIC_BASE_URL, AZURE_API_BASE, HOSTED_VLLM_API_BASE, ...).
// Azure reads AZURE_API_KEY, AZURE_API_BASE and AZURE_API_VERSION; its
// model is the deployment name.
//
// Any OpenAI-compatible server works as "openai/MODEL" with WithBaseURL.
//
// "openai/responses/MODEL" (LiteLLM's spelling, also "azure/responses/…")
// calls OpenAI's Responses API instead of chat completions
// (openai.NewResponses): current OpenAI models give reasoning summaries
// only there. It takes the same options and keys.
//
// Every LM has stall protection: a streamed reply silent for 60 s
// (WithIdleTimeout) ends with lm.ErrStreamIdle, and a blocking call ends
// after 10 min (WithTimeout).
//
// Replies are cached, as in DSPy: by default in a memory cache of the LM's
// own; WithCache shares a store (memory, disk, Redis) or turns caching off.
// WithLMHistory keeps the LM's calls.
func NewLM(name string, opts ...LMOption) (lm.LM, error) {
	prefix, model, ok := strings.Cut(name, "/")
	if !ok || model == "" {
		return nil, fmt.Errorf("dspy: LM name %q is not \"provider/model\" (providers: %s)", name, strings.Join(knownProviders(), ", "))
	}
	p, ok := presets[prefix]
	if !ok {
		return nil, fmt.Errorf("%w %q in %q; known: %s", ErrUnknownProvider, prefix, name, strings.Join(knownProviders(), ", "))
	}
	var cfg lmConfig
	for _, o := range opts {
		o.applyLM(&cfg)
	}
	base := cfg.baseURL
	if base == "" {
		base = os.Getenv(p.baseEnv)
	}
	if base == "" {
		base = p.baseURL
	}
	if base == "" && p.needsBase {
		return nil, fmt.Errorf("dspy: %s needs a base URL: set %s or use WithBaseURL", prefix, p.baseEnv)
	}
	key := cfg.apiKey
	if key == "" {
		key = os.Getenv(p.keyEnv)
	}
	// A server of one's own (a base URL other than the provider's, such as
	// a local vLLM or llama.cpp) often needs no key: then none is sent.
	ownServer := base != p.baseURL
	if key == "" && !p.keyOptional && !ownServer {
		return nil, fmt.Errorf("%w for %s: set %s or use WithAPIKey (a server at another base URL needs none)", ErrMissingAPIKey, prefix, p.keyEnv)
	}
	responses := false
	if prefix == "openai" || prefix == "azure" {
		if rest, ok := strings.CutPrefix(model, "responses/"); ok && rest != "" {
			model, responses = rest, true
		}
	}
	var m lm.LM
	if prefix == "anthropic" {
		o := []anthropic.Option{anthropic.WithBaseURL(base), anthropic.WithAPIKey(key), anthropic.WithHTTPClient(cfg.hc)}
		if cfg.temperature != nil {
			o = append(o, anthropic.WithTemperature(*cfg.temperature))
		}
		if cfg.maxTokens > 0 {
			o = append(o, anthropic.WithMaxTokens(cfg.maxTokens))
		}
		if cfg.retry != nil {
			o = append(o, anthropic.WithRetry(*cfg.retry))
		}
		if cfg.idle != 0 {
			o = append(o, anthropic.WithIdleTimeout(cfg.idle))
		}
		if cfg.timeout != 0 {
			o = append(o, anthropic.WithTimeout(cfg.timeout))
		}
		m = anthropic.New(model, o...)
	} else {
		o := []openai.Option{openai.WithBaseURL(base), openai.WithAPIKey(key), openai.WithHTTPClient(cfg.hc), openai.WithProvider(p.provider)}
		if p.maxField != "" {
			o = append(o, openai.WithMaxTokensField(p.maxField))
		}
		if prefix == "azure" {
			v := os.Getenv("AZURE_API_VERSION")
			if v == "" {
				v = defaultAzureAPIVersion
			}
			o = append(o, openai.WithAzure(v))
		}
		if cfg.temperature != nil {
			o = append(o, openai.WithTemperature(*cfg.temperature))
		}
		if cfg.maxTokens > 0 {
			o = append(o, openai.WithMaxTokens(cfg.maxTokens))
		}
		if cfg.retry != nil {
			o = append(o, openai.WithRetry(*cfg.retry))
		}
		if cfg.idle != 0 {
			o = append(o, openai.WithIdleTimeout(cfg.idle))
		}
		if cfg.timeout != 0 {
			o = append(o, openai.WithTimeout(cfg.timeout))
		}
		if responses {
			r := openai.NewResponses(model, o...)
			m, base = r, r.BaseURL() // its own cache entries (lm.Endpoint)
		} else {
			m = openai.New(model, o...)
		}
	}
	if cfg.limits != nil {
		m = lm.Limit(m, *cfg.limits)
	}
	return decorate(m, &cfg, p.provider, base, model), nil
}

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
// Keys include the provider, the base URL and the model, so LMs can share
// a store (two servers behind one model name never answer for each
// other); never the API key. A single
// call skips the cache with lm.Request.NoCache; a fresh sample of an
// otherwise identical call needs a different lm.Request.RolloutID.
func WithCache(s cache.Store) LMOption { return cacheOption{s} }

// decorate wraps a provider's LM with the cache and the per-LM history of
// cfg: history outside (it sees hits and their latency), then the cache
// (a hit takes no rate-limit capacity), then m. The cache logs store
// failures to the settings' logger (WithLogger) of the failing call.
func decorate(m lm.LM, cfg *lmConfig, provider, baseURL, model string) lm.LM {
	store := cfg.cache
	if !cfg.cacheSet {
		store = cache.NewMemory(defaultLMCacheEntries, defaultLMCacheBytes)
	}
	if store != nil {
		m = cache.Wrap(m, store, cache.WithIdentity(provider, model), cache.WithEndpoint(baseURL), cache.WithSalt(lmSalt(cfg)),
			cache.WithLogger(slog.New(settingsHandler{})))
	}
	if cfg.history != nil {
		m = history.Record(m, cfg.history)
	}
	return m
}

// settingsHandler sends each record to the logger of the settings in
// effect for the record's context (WithLogger, through Configure or
// WithSettings), so that an LM made before Configure, or used under a
// request's own settings, logs where they say.
type settingsHandler struct {
	with []func(slog.Handler) slog.Handler // WithAttrs and WithGroup, in order
}

func (h settingsHandler) handler(ctx context.Context) slog.Handler {
	if ctx == nil {
		ctx = context.Background()
	}
	out := current(ctx).logger.Handler()
	for _, f := range h.with {
		out = f(out)
	}
	return out
}

func (h settingsHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.handler(ctx).Enabled(ctx, l)
}

func (h settingsHandler) Handle(ctx context.Context, r slog.Record) error {
	return h.handler(ctx).Handle(ctx, r)
}

func (h settingsHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return settingsHandler{append(h.with[:len(h.with):len(h.with)], func(x slog.Handler) slog.Handler { return x.WithAttrs(as) })}
}

func (h settingsHandler) WithGroup(name string) slog.Handler {
	return settingsHandler{append(h.with[:len(h.with):len(h.with)], func(x slog.Handler) slog.Handler { return x.WithGroup(name) })}
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

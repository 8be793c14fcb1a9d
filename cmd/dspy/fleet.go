package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/godspy/dspy"
	"github.com/godspy/dspy/lm"
	"github.com/godspy/dspy/lm/cache"
	"github.com/godspy/dspy/lm/cache/rediscache"
	"github.com/godspy/dspy/lm/redislimit"
	"github.com/godspy/dspy/streaming"
	"github.com/godspy/dspy/streaming/resume"
	"github.com/godspy/dspy/streaming/resume/redisresume"
)

// fleetFlags are serve's flags for running several replicas: the stream
// store, the LM cache and the LM quota they share on Redis.
type fleetFlags struct {
	redisURL string
	cache    string
	rpm, tpm int
	maxRuns  int
}

func (f *fleetFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.redisURL, "redis", "", `a Redis server shared by the replicas ("redis://[:password@]host:6379/0", "rediss://..." for TLS): resumable streams readable and stoppable from any replica, the --rpm/--tpm quota shared, and the LM cache with --cache redis; without it streams are resumable within this process`)
	fs.StringVar(&f.cache, "cache", "", `the LM cache: memory (each process its own), redis (memory in front of --redis, shared by the fleet), off; default redis with --redis, else memory`)
	fs.IntVar(&f.rpm, "rpm", 0, "the most LM requests per minute (0: no limit); with --redis, for the whole fleet")
	fs.IntVar(&f.tpm, "tpm", 0, "the most LM tokens per minute (0: no limit); with --redis, for the whole fleet")
	fs.IntVar(&f.maxRuns, "max-runs", streaming.DefaultMaxRuns, "the most resumable runs this process keeps going at once (a POST over it is a 503)")
}

// fleet is what fleetFlags opened; close releases it.
type fleet struct {
	store  resume.Store
	redis  *redis.Client // for the quota
	closer []func() error
	lmOpts []dspy.LMOption
	limits *lm.Limits // --rpm, --tpm
	label  string     // for the banner: what is shared
	where  string     // the Redis URL, without its password
	// sharedCache: the LM cache is on Redis (the demo LM has no cache).
	sharedCache bool
}

// banner says what the replica shares; demo: the LM is the demo LM.
func (f *fleet) banner(demo bool) string {
	if f.where == "" {
		return f.label
	}
	l := f.label
	if f.sharedCache && !demo {
		l += ", LM cache"
	}
	return l + " shared on Redis at " + f.where
}

func (f *fleet) close() {
	for i := len(f.closer) - 1; i >= 0; i-- {
		_ = f.closer[i]()
	}
}

// redactedURL is rawURL without its password, for messages.
func redactedURL(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// openFleet opens what the flags ask for. Redis must answer at start:
// a fleet whose shared store is down from the first request is a
// misconfiguration, better reported now than served half-working.
func openFleet(ctx context.Context, f fleetFlags, log *slog.Logger) (*fleet, error) {
	fl := &fleet{}
	if f.cache == "" {
		f.cache = "memory"
		if f.redisURL != "" {
			f.cache = "redis"
		}
	}
	switch f.cache {
	case "memory", "off":
	case "redis":
		if f.redisURL == "" {
			return nil, fmt.Errorf("%w: --cache redis needs --redis URL", errUsage)
		}
	default:
		return nil, fmt.Errorf("%w: unknown --cache %q (allowed: memory, redis, off)", errUsage, f.cache)
	}
	if f.maxRuns < 1 {
		return nil, fmt.Errorf("%w: --max-runs %d: at least 1", errUsage, f.maxRuns)
	}
	if f.rpm < 0 || f.tpm < 0 {
		return nil, fmt.Errorf("%w: --rpm and --tpm cannot be negative", errUsage)
	}
	if f.redisURL == "" {
		fl.store = resume.NewMemory()
		fl.label = "streams resumable in this process"
		if f.rpm > 0 || f.tpm > 0 {
			fl.limits = &lm.Limits{RequestsPerMinute: f.rpm, TokensPerMinute: f.tpm}
		}
		if f.cache == "off" {
			fl.lmOpts = append(fl.lmOpts, dspy.WithCache(nil))
		}
		return fl, nil
	}

	opts, err := redis.ParseURL(f.redisURL)
	if err != nil {
		var ue *url.Error // it repeats the URL, which may hold a password
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("%w: --redis: bad Redis URL: %w", errUsage, err)
	}
	where := redactedURL(f.redisURL)
	store, err := redisresume.Open(f.redisURL)
	if err != nil {
		return nil, fmt.Errorf("--redis %s: %w", where, err)
	}
	fl.closer = append(fl.closer, store.Close)
	fl.store = store

	opts.ContextTimeoutEnabled = true
	rc := redis.NewClient(opts)
	fl.closer = append(fl.closer, rc.Close)
	fl.redis = rc
	pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := rc.Ping(pctx).Err(); err != nil {
		fl.close()
		return nil, fmt.Errorf("--redis %s: the server does not answer: %w", where, err)
	}
	if f.rpm > 0 || f.tpm > 0 {
		// The quota's name is the same on every replica that serves this
		// flag set; --rpm/--tpm are the fleet's.
		q := redislimit.New(rc, "dspy-serve", redislimit.Limits{Requests: f.rpm, Tokens: f.tpm}, redislimit.WithLogger(log))
		fl.limits = &lm.Limits{Quota: q}
	}
	switch f.cache {
	case "redis":
		rcache, err := rediscache.Open(f.redisURL)
		if err != nil {
			fl.close()
			return nil, fmt.Errorf("--redis %s: %w", where, err)
		}
		fl.closer = append(fl.closer, rcache.Close)
		c, err := cache.New(cache.Config{Memory: true, Remote: rcache})
		if err != nil {
			fl.close()
			return nil, err
		}
		fl.lmOpts = append(fl.lmOpts, dspy.WithCache(c))
	case "off":
		fl.lmOpts = append(fl.lmOpts, dspy.WithCache(nil))
	}
	fl.label = "streams, stop"
	if f.rpm > 0 || f.tpm > 0 {
		fl.label += ", LM quota"
	}
	fl.sharedCache = f.cache == "redis"
	fl.where = where
	return fl, nil
}

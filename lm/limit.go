package lm

import (
	"context"
	"iter"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limits bound the load one LM puts on its provider. A zero field means no
// limit of that kind.
type Limits struct {
	// MaxInFlight is the number of requests open at once. A stream counts
	// until its iterator ends.
	MaxInFlight int
	// RequestsPerMinute starts at most this many requests per minute, with a
	// burst of up to one minute's worth.
	RequestsPerMinute int
	// TokensPerMinute bounds prompt plus completion tokens per minute. A
	// request reserves an estimate of its prompt (4 bytes a token) before it
	// starts; when its usage is known the difference is charged, so later
	// requests wait for the overdraft.
	TokensPerMinute int
	// Quota, if set, is a limit shared beyond this LM, such as a fleet's
	// quota at its provider kept in Redis (lm/redislimit). It is waited
	// for last, after the in-flight slot, right before the request, so
	// that the starts the provider counts follow it; the limits above
	// still apply locally.
	Quota Quota
}

// Quota is a limit on requests and tokens shared with other processes.
// Implementations must be safe for concurrent use.
type Quota interface {
	// Wait blocks until one request, estimated at tokens prompt tokens
	// (4 bytes a token), may start. It returns ctx's error once ctx is
	// done; any other error fails the call.
	Wait(ctx context.Context, tokens int) error
	// Charge records tokens that a request used beyond its estimate, once
	// its usage is known.
	Charge(ctx context.Context, tokens int)
}

// Limited is an LM that waits for capacity before each call. Waiting honours
// the caller's context. It is safe for concurrent use.
type Limited struct {
	m     LM
	sem   chan struct{}
	rpm   *rate.Limiter
	tpm   *rate.Limiter
	quota Quota
	mu    sync.Mutex // serialises token overdraft charges
}

// Limit wraps m so that its calls respect lim.
func Limit(m LM, lim Limits) *Limited {
	l := &Limited{m: m, quota: lim.Quota}
	if lim.MaxInFlight > 0 {
		l.sem = make(chan struct{}, lim.MaxInFlight)
	}
	if lim.RequestsPerMinute > 0 {
		l.rpm = rate.NewLimiter(rate.Limit(float64(lim.RequestsPerMinute)/60), lim.RequestsPerMinute)
	}
	if lim.TokensPerMinute > 0 {
		l.tpm = rate.NewLimiter(rate.Limit(float64(lim.TokensPerMinute)/60), lim.TokensPerMinute)
	}
	return l
}

// Unwrap returns the wrapped LM.
func (l *Limited) Unwrap() LM { return l.m }

// Generate waits for capacity, then calls the wrapped LM.
func (l *Limited) Generate(ctx context.Context, req *Request) (*Response, error) {
	est, err := l.acquire(ctx, req)
	if err != nil {
		return nil, err
	}
	defer l.release()
	resp, err := l.m.Generate(ctx, req)
	if resp != nil {
		l.charge(ctx, est, resp.Usage)
	}
	return resp, err
}

// Stream waits for capacity when iteration starts and holds its in-flight
// slot until the iteration ends.
func (l *Limited) Stream(ctx context.Context, req *Request) iter.Seq2[Chunk, error] {
	return func(yield func(Chunk, error) bool) {
		est, err := l.acquire(ctx, req)
		if err != nil {
			yield(Chunk{}, err)
			return
		}
		defer l.release()
		var usage Usage
		defer func() { l.charge(ctx, est, usage) }()
		for c, err := range l.m.Stream(ctx, req) {
			if c.Usage != nil {
				usage = *c.Usage
			}
			if !yield(c, err) {
				return
			}
		}
	}
}

// estimate is what a request was charged before it started: locally (at
// most the token bucket's burst) and on the shared quota.
type estimate struct{ local, quota int }

func (l *Limited) acquire(ctx context.Context, req *Request) (est estimate, err error) {
	if tr := ContextTrace(ctx); tr != nil && tr.LimitWait != nil && (l.tpm != nil || l.rpm != nil || l.sem != nil || l.quota != nil) {
		start := time.Now()
		defer func() { tr.LimitWait(ctx, LimitWaitInfo{Duration: time.Since(start), Err: err}) }()
	}
	if l.tpm != nil || l.quota != nil {
		est.quota = estimateTokens(req)
	}
	if l.tpm != nil {
		est.local = min(est.quota, l.tpm.Burst())
		if err := l.tpm.WaitN(ctx, est.local); err != nil {
			return estimate{}, err
		}
	}
	if l.rpm != nil {
		if err := l.rpm.Wait(ctx); err != nil {
			return estimate{}, err
		}
	}
	if l.sem != nil {
		select {
		case l.sem <- struct{}{}:
		case <-ctx.Done():
			return estimate{}, context.Cause(ctx)
		}
	}
	if l.quota != nil {
		if err := l.quota.Wait(ctx, est.quota); err != nil {
			l.release()
			return estimate{}, err
		}
	}
	return est, nil
}

func (l *Limited) release() {
	if l.sem != nil {
		<-l.sem
	}
}

// charge takes the tokens a call used beyond its estimate from the bucket,
// going into debt if need be, so the following calls wait for it, and
// tells the shared quota.
func (l *Limited) charge(ctx context.Context, est estimate, u Usage) {
	used := u.TotalTokens
	if used == 0 {
		used = u.PromptTokens + u.CompletionTokens
	}
	if l.quota != nil && used > est.quota {
		l.quota.Charge(context.WithoutCancel(ctx), used-est.quota)
	}
	if l.tpm == nil {
		return
	}
	extra := used - est.local
	if extra <= 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for extra > 0 {
		n := min(extra, l.tpm.Burst())
		l.tpm.ReserveN(time.Now(), n)
		extra -= n
	}
}

// estimateTokens guesses a request's prompt size at four bytes a token.
func estimateTokens(req *Request) int {
	n := 0
	for _, m := range req.Messages {
		n += len(m.Content) + len(m.Reasoning) + 4
		for _, tc := range m.ToolCalls {
			n += len(tc.Name) + len(tc.Arguments)
		}
	}
	return max(1, n/4)
}

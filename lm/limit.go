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
}

// Limited is an LM that waits for capacity before each call. Waiting honours
// the caller's context. It is safe for concurrent use.
type Limited struct {
	m   LM
	sem chan struct{}
	rpm *rate.Limiter
	tpm *rate.Limiter
	mu  sync.Mutex // serialises token overdraft charges
}

// Limit wraps m so that its calls respect lim.
func Limit(m LM, lim Limits) *Limited {
	l := &Limited{m: m}
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
		l.charge(est, resp.Usage)
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
		defer func() { l.charge(est, usage) }()
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

func (l *Limited) acquire(ctx context.Context, req *Request) (est int, err error) {
	if tr := ContextTrace(ctx); tr != nil && tr.LimitWait != nil && (l.tpm != nil || l.rpm != nil || l.sem != nil) {
		start := time.Now()
		defer func() { tr.LimitWait(ctx, LimitWaitInfo{Duration: time.Since(start), Err: err}) }()
	}
	if l.tpm != nil {
		est = min(estimateTokens(req), l.tpm.Burst())
		if err := l.tpm.WaitN(ctx, est); err != nil {
			return 0, err
		}
	}
	if l.rpm != nil {
		if err := l.rpm.Wait(ctx); err != nil {
			return 0, err
		}
	}
	if l.sem != nil {
		select {
		case l.sem <- struct{}{}:
		case <-ctx.Done():
			return 0, context.Cause(ctx)
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
// going into debt if need be, so the following calls wait for it.
func (l *Limited) charge(est int, u Usage) {
	if l.tpm == nil {
		return
	}
	used := u.TotalTokens
	if used == 0 {
		used = u.PromptTokens + u.CompletionTokens
	}
	extra := used - est
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

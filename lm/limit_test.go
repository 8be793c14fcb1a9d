package lm

import (
	"context"
	"errors"
	"iter"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// slowLM answers after d and reports usage tokens.
type slowLM struct {
	d        time.Duration
	tokens   int
	inFlight atomic.Int32
	peak     atomic.Int32
}

func (s *slowLM) enter() {
	n := s.inFlight.Add(1)
	for {
		p := s.peak.Load()
		if n <= p || s.peak.CompareAndSwap(p, n) {
			break
		}
	}
}

func (s *slowLM) Generate(ctx context.Context, req *Request) (*Response, error) {
	s.enter()
	defer s.inFlight.Add(-1)
	select {
	case <-time.After(s.d):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return &Response{Choices: []Choice{{Message: Message{Content: "ok"}}}, Usage: Usage{TotalTokens: s.tokens}}, nil
}

func (s *slowLM) Stream(ctx context.Context, req *Request) iter.Seq2[Chunk, error] {
	return func(yield func(Chunk, error) bool) {
		s.enter()
		defer s.inFlight.Add(-1)
		for range 3 {
			time.Sleep(s.d / 3)
			if !yield(Chunk{Text: "x"}, nil) {
				return
			}
		}
		yield(Chunk{FinishReason: "stop", Usage: &Usage{TotalTokens: s.tokens}}, nil)
	}
}

func TestLimitInFlight(t *testing.T) {
	for _, stream := range []bool{false, true} {
		synctest.Test(t, func(t *testing.T) {
			inner := &slowLM{d: time.Second}
			l := Limit(inner, Limits{MaxInFlight: 3})
			start := time.Now()
			var wg sync.WaitGroup
			for range 9 {
				wg.Go(func() {
					req := &Request{Messages: []Message{{Role: RoleUser, Content: "hi"}}}
					if stream {
						if _, err := Collect(l.Stream(t.Context(), req)); err != nil {
							t.Error(err)
						}
					} else if _, err := l.Generate(t.Context(), req); err != nil {
						t.Error(err)
					}
				})
			}
			wg.Wait()
			if p := inner.peak.Load(); p != 3 {
				t.Errorf("peak in flight = %d, want 3", p)
			}
			if got := time.Since(start); got < 2990*time.Millisecond || got > 3*time.Second {
				t.Errorf("took %v, want 3s", got)
			}
		})
	}
}

func TestLimitRequestsPerMinute(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := Limit(&slowLM{}, Limits{RequestsPerMinute: 60})
		start := time.Now()
		for range 62 { // burst of 60, then one a second
			if _, err := l.Generate(t.Context(), &Request{}); err != nil {
				t.Fatal(err)
			}
		}
		if got := time.Since(start); got != 2*time.Second {
			t.Errorf("took %v, want 2s", got)
		}
	})
}

func TestLimitTokensPerMinute(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Each call uses 600 tokens of a 600/min budget. The first is paid
		// from the burst; the second starts once its 2-token estimate is
		// free (0.2 s) and overdraws; the third waits out the overdraft.
		l := Limit(&slowLM{tokens: 600}, Limits{TokensPerMinute: 600})
		start := time.Now()
		for range 3 {
			if _, err := l.Generate(t.Context(), &Request{Messages: []Message{{Content: "abcd"}}}); err != nil {
				t.Fatal(err)
			}
		}
		got := time.Since(start)
		if got < 60*time.Second || got > 61*time.Second {
			t.Errorf("took %v, want about 60.2s", got)
		}
	})
}

func TestLimitWaitHonoursContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		inner := &slowLM{d: time.Hour}
		l := Limit(inner, Limits{MaxInFlight: 1})
		go l.Generate(t.Context(), &Request{})
		synctest.Wait()
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		_, err := l.Generate(ctx, &Request{})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err = %v", err)
		}
		var got error
		for _, err := range l.Stream(ctx, &Request{}) {
			got = err
		}
		if !errors.Is(got, context.DeadlineExceeded) {
			t.Errorf("stream err = %v", got)
		}
	})
}

func TestLimitStreamBreakReleases(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := Limit(&slowLM{d: 3 * time.Second}, Limits{MaxInFlight: 1})
		for range 5 {
			for range l.Stream(t.Context(), &Request{}) {
				break
			}
		}
		if _, err := l.Generate(t.Context(), &Request{}); err != nil {
			t.Fatal(err)
		}
	})
}

package lm

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/google/go-cmp/cmp"
)

// traceLog records what the hooks of a Trace saw.
type traceLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *traceLog) add(s string) {
	l.mu.Lock()
	l.lines = append(l.lines, s)
	l.mu.Unlock()
}

func (l *traceLog) trace(prefix string) *Trace {
	return &Trace{
		Retry: func(_ context.Context, i RetryInfo) {
			l.add(prefix + "retry " + strconv.Itoa(i.Attempt) + " after " + i.Delay.String() + ": " + i.Err.Error())
		},
		LimitWait: func(_ context.Context, i LimitWaitInfo) {
			s := prefix + "waited " + i.Duration.String()
			if i.Err != nil {
				s += ": " + i.Err.Error()
			}
			l.add(s)
		},
	}
}

func TestTraceRetryDo(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var log traceLog
		ctx := WithTrace(t.Context(), log.trace(""))
		errs := []error{&APIError{Provider: "p", StatusCode: 429}, &APIError{Provider: "p", StatusCode: 503}, nil}
		headers := []http.Header{{"Retry-After-Ms": {"250"}}, {"Retry-After": {"2"}}, nil}
		n := 0
		err := RetryPolicy{}.Do(ctx, func(context.Context) (http.Header, error) {
			n++
			return headers[n-1], errs[n-1]
		})
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"retry 1 after 250ms: p: HTTP 429", "retry 2 after 2s: p: HTTP 503"}
		if d := cmp.Diff(want, log.lines); d != "" {
			t.Errorf("Retry hooks (-want +got):\n%s", d)
		}
	})
}

func TestTraceRetryStream(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var log traceLog
		ctx := WithTrace(t.Context(), log.trace(""))
		n := 0
		var got []string
		RetryPolicy{}.Stream(ctx, func(c Chunk, err error) bool {
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, c.Text)
			return true
		}, func(_ context.Context, emit func(Chunk) bool) (http.Header, error) {
			n++
			if n == 1 {
				return http.Header{"Retry-After-Ms": {"100"}}, &APIError{Provider: "p", StatusCode: 500}
			}
			emit(Chunk{Text: "ok"})
			return nil, nil
		})
		if d := cmp.Diff([]string{"ok"}, got); d != "" {
			t.Errorf("chunks (-want +got):\n%s", d)
		}
		if d := cmp.Diff([]string{"retry 1 after 100ms: p: HTTP 500"}, log.lines); d != "" {
			t.Errorf("Retry hooks (-want +got):\n%s", d)
		}
	})
}

func TestTraceLimitWait(t *testing.T) {
	for _, stream := range []bool{false, true} {
		synctest.Test(t, func(t *testing.T) {
			var log traceLog
			ctx := WithTrace(t.Context(), log.trace(""))
			l := Limit(&slowLM{}, Limits{RequestsPerMinute: 2}) // a burst of 2, then one per 30 s
			for range 3 {
				if stream {
					for _, err := range l.Stream(ctx, &Request{}) {
						if err != nil {
							t.Fatal(err)
						}
					}
				} else if _, err := l.Generate(ctx, &Request{}); err != nil {
					t.Fatal(err)
				}
			}
			cancelled, cancel := context.WithCancel(ctx)
			go func() {
				synctest.Wait()
				cancel()
			}()
			if _, err := l.Generate(cancelled, &Request{}); !errors.Is(err, context.Canceled) {
				t.Errorf("Generate with its context cancelled during the wait: err = %v, want context.Canceled", err)
			}
			want := []string{"waited 0s", "waited 0s", "waited 30s", "waited 0s: context canceled"}
			if d := cmp.Diff(want, log.lines); d != "" {
				t.Errorf("LimitWait hooks, stream %v (-want +got):\n%s", stream, d)
			}
		})
	}
}

// A Limited LM without limits never waits, so it reports nothing.
func TestTraceLimitWaitNoLimits(t *testing.T) {
	var log traceLog
	ctx := WithTrace(context.Background(), log.trace(""))
	if _, err := Limit(&slowLM{}, Limits{}).Generate(ctx, &Request{}); err != nil {
		t.Fatal(err)
	}
	if len(log.lines) != 0 {
		t.Errorf("LimitWait fired without limits: %q", log.lines)
	}
}

func TestWithTraceComposes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var log traceLog
		ctx := WithTrace(t.Context(), log.trace("outer "))
		ctx = WithTrace(ctx, &Trace{Retry: log.trace("inner ").Retry})
		ctx = WithTrace(ctx, nil)
		n := 0
		_ = RetryPolicy{}.Do(ctx, func(context.Context) (http.Header, error) {
			n++
			if n == 1 {
				return http.Header{"Retry-After": {"1"}}, &APIError{Provider: "p", StatusCode: 500}
			}
			return nil, nil
		})
		want := []string{"inner retry 1 after 1s: p: HTTP 500", "outer retry 1 after 1s: p: HTTP 500"}
		if d := cmp.Diff(want, log.lines); d != "" {
			t.Errorf("composed hooks (-want +got):\n%s", d)
		}
	})
}

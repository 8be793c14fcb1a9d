package dspy

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/godspy/dspy/lm"
	"github.com/godspy/dspy/lm/history"
)

// A LMHistoryOption is WithLMHistory's value: a setting (Configure,
// WithSettings) that one LM can also take as its own (NewLM).
type LMHistoryOption interface {
	Option
	LMOption
}

type historyOption struct{ h *history.History }

func (o historyOption) applySettings(s *overlay) { s.history, s.historySet = o.h, true }
func (o historyOption) applyLM(c *lmConfig)      { c.history = o.h }

// WithLMHistory sets where LM calls are kept.
//
// As a setting (Configure, WithSettings) it is the global history: every LM
// call a module makes is added to h; nil keeps none. Unlike DSPy, which
// always keeps one, the process default keeps no history: in a service the
// last prompts and replies are user data, held in memory only when asked
// for. Turn it on with
//
//	dspy.Configure(dspy.WithLMHistory(history.New(history.DefaultSize)))
//
// As an option of NewLM it is that LM's own history (DSPy's lm.history):
// the LM records its calls in h, whichever module makes them. LMHistory
// returns it.
func WithLMHistory(h *history.History) LMHistoryOption {
	return historyOption{h}
}

// CurrentLMHistory returns the history that module LM calls in ctx are added
// to, or nil.
func CurrentLMHistory(ctx context.Context) *history.History { return current(ctx).history }

// InspectHistory prints the last n LM calls of the process default history
// to standard output, as dspy.inspect_history does: each call's messages as
// "System message:", "User message:", ... blocks, then "Response:". With
// no history kept (the default) it prints how to keep one.
func InspectHistory(n int) { inspectHistory(os.Stdout, n) }

func inspectHistory(w io.Writer, n int) {
	h := CurrentLMHistory(context.Background())
	if h == nil {
		fmt.Fprintln(w, noHistoryHint)
		return
	}
	_ = h.Inspect(w, n)
}

// noHistoryHint is what InspectHistory prints when no history is kept.
const noHistoryHint = "dspy: no LM history is kept (off by default: it holds prompts and replies in memory). " +
	"Keep one with dspy.Configure(dspy.WithLMHistory(history.New(history.DefaultSize))), " +
	"history being github.com/godspy/dspy/lm/history."

// LMHistory returns the history m keeps its own calls in (NewLM with
// WithLMHistory, or history.Record), looking through wrapping LMs; nil if
// it keeps none.
func LMHistory(m lm.LM) *history.History {
	for m != nil {
		if r, ok := m.(interface{ History() *history.History }); ok {
			return r.History()
		}
		u, ok := m.(interface{ Unwrap() lm.LM })
		if !ok {
			return nil
		}
		m = u.Unwrap()
	}
	return nil
}

// recordHistory adds an LM call made by a module to the settings' history.
func recordHistory(s *settings, model lm.LM, req *lm.Request, start time.Time, resp *lm.Response, err error, stream bool) {
	if s.history != nil { // start is set when there is a history
		s.history.Add(history.NewEntry(model, req, start, resp, err, stream))
	}
}

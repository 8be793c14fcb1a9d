package dspy

import (
	"context"
	"os"
	"time"

	"github.com/godspy/dspy/lm"
	"github.com/godspy/dspy/lm/history"
)

// The process default keeps the last history.DefaultSize LM calls, as DSPy
// keeps a global history. Configure(WithLMHistory(nil)) turns that off.
func init() {
	defaults.Store(&overlay{history: history.New(history.DefaultSize), historySet: true})
}

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
// call a module makes is added to h. The process default has one of
// history.DefaultSize entries until Configure replaces it; nil keeps no
// history.
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
// "System message:", "User message:", ... blocks, then "Response:".
func InspectHistory(n int) {
	if h := CurrentLMHistory(context.Background()); h != nil {
		_ = h.Inspect(os.Stdout, n)
	}
}

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

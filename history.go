package dspy

import (
	"context"
	"os"
	"time"

	"github.com/godspy/dspy/lm"
	"github.com/godspy/dspy/lm/history"
)

// The process default keeps the last history.DefaultSize LM calls, as DSPy
// keeps a global history. Configure(WithHistory(nil)) turns that off.
func init() {
	defaults.Store(&overlay{history: history.New(history.DefaultSize), historySet: true})
}

// A HistoryOption is WithHistory's value: a setting (Configure,
// WithSettings) that one LM can also take as its own (NewLM).
type HistoryOption interface {
	Option
	LMOption
}

type historyOption struct{ h *history.History }

func (o historyOption) applySettings(s *overlay) { s.history, s.historySet = o.h, true }
func (o historyOption) applyLM(c *lmConfig)      { c.history = o.h }

// WithHistory sets where LM calls are kept.
//
// As a setting (Configure, WithSettings) it is the global history: every LM
// call a module makes is added to h. The process default has one of
// history.DefaultSize entries until Configure replaces it; nil keeps no
// history.
//
// As an option of NewLM it is that LM's own history (DSPy's lm.history):
// the LM records its calls in h, whichever module makes them. LMHistory
// returns it.
func WithHistory(h *history.History) HistoryOption {
	return historyOption{h}
}

// CurrentHistory returns the history that module LM calls in ctx are added
// to, or nil.
func CurrentHistory(ctx context.Context) *history.History { return current(ctx).history }

// InspectHistory prints the last n LM calls of the process default history
// to standard output, as dspy.inspect_history does: each call's messages as
// "System message:", "User message:", ... blocks, then "Response:".
func InspectHistory(n int) {
	if h := CurrentHistory(context.Background()); h != nil {
		_ = h.Inspect(os.Stdout, n)
	}
}

// LMHistory returns the history m keeps its own calls in (NewLM with
// WithHistory, or history.Record), looking through wrapping LMs; nil if
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

// historyStart returns the start time of an LM call to record, or the zero
// time when the settings keep no history.
func historyStart(s *settings) time.Time {
	if s.history == nil {
		return time.Time{}
	}
	return time.Now()
}

// recordHistory adds an LM call made by a module to the settings' history.
func recordHistory(s *settings, model lm.LM, req *lm.Request, start time.Time, resp *lm.Response, err error, stream bool) {
	if s.history != nil {
		s.history.Add(history.NewEntry(model, req, start, resp, err, stream))
	}
}

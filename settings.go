package dspy

import (
	"context"
	"log/slog"
	"sync/atomic"

	"github.com/godspy/dspy/lm"
	"github.com/godspy/dspy/lm/history"
)

// Option configures settings (Configure, WithSettings). Two kinds of
// option serve a second place too: a ModuleOption (WithLM, WithAdapter) is
// also one module's own setting, and a LMHistoryOption (WithLMHistory) also one
// LM's own.
type Option interface {
	applySettings(*overlay)
}

// A ModuleOption is a setting that one module can also take as its own:
// given to Configure or WithSettings it applies to every module, given to
// NewPredict (or NewChainOfThought, WithPredictOptions, ...) to that
// module, where it wins over the settings.
type ModuleOption interface {
	Option
	PredictOption
}

// overlay holds settings that were set; nil/unset fields fall through to the
// layer below (context over process default).
type overlay struct {
	lm         lm.LM
	adapter    Adapter
	traces     []*Trace
	trackUsage *bool
	logger     *slog.Logger
	history    *history.History
	historySet bool // WithLMHistory was given (nil turns history off)
}

func (o *overlay) merge(top *overlay) *overlay {
	m := *o
	if top.lm != nil {
		m.lm = top.lm
	}
	if top.adapter != nil {
		m.adapter = top.adapter
	}
	if len(top.traces) > 0 {
		m.traces = append(append([]*Trace(nil), o.traces...), top.traces...)
	}
	if top.trackUsage != nil {
		m.trackUsage = top.trackUsage
	}
	if top.logger != nil {
		m.logger = top.logger
	}
	if top.historySet {
		m.history, m.historySet = top.history, true
	}
	return &m
}

// The process default. It is the only package-level mutable state, and it
// is replaced atomically, so Configure is safe while calls run.
var defaults atomic.Pointer[overlay]

// Configure sets the process-wide default settings, as dspy.configure does.
// Options not given keep their current value. Safe for concurrent use; calls
// already running keep the settings they started with.
func Configure(opts ...Option) {
	for {
		old := defaults.Load()
		base := old
		if base == nil {
			base = &overlay{}
		}
		top := &overlay{}
		for _, o := range opts {
			o.applySettings(top)
		}
		if defaults.CompareAndSwap(old, base.merge(top)) {
			return
		}
	}
}

type settingsKey struct{}

// WithSettings returns a context whose calls use the given settings on top of
// those already in ctx and the process default, as dspy.context does. Because
// settings live in the context, they follow the call into every goroutine it
// starts. Traces accumulate: a trace added here fires after those of outer
// layers.
func WithSettings(ctx context.Context, opts ...Option) context.Context {
	top := &overlay{}
	for _, o := range opts {
		o.applySettings(top)
	}
	if cur, ok := ctx.Value(settingsKey{}).(*overlay); ok {
		top = cur.merge(top)
	}
	return context.WithValue(ctx, settingsKey{}, top)
}

// settings are the effective settings of one call.
type settings struct {
	lm         lm.LM
	adapter    Adapter
	traces     []*Trace
	trackUsage bool
	logger     *slog.Logger
	history    *history.History
}

func current(ctx context.Context) settings {
	var s settings
	layers := [2]*overlay{defaults.Load(), nil}
	if o, ok := ctx.Value(settingsKey{}).(*overlay); ok {
		layers[1] = o
	}
	for _, o := range layers {
		if o == nil {
			continue
		}
		if o.lm != nil {
			s.lm = o.lm
		}
		if o.adapter != nil {
			s.adapter = o.adapter
		}
		if len(o.traces) > 0 {
			if len(s.traces) == 0 {
				s.traces = o.traces
			} else {
				s.traces = append(append([]*Trace(nil), s.traces...), o.traces...)
			}
		}
		if o.trackUsage != nil {
			s.trackUsage = *o.trackUsage
		}
		if o.logger != nil {
			s.logger = o.logger
		}
		if o.historySet {
			s.history = o.history
		}
	}
	if s.logger == nil {
		s.logger = slog.Default()
	}
	return s
}

// CurrentLM returns the LM that a module without its own LM would use in ctx,
// or nil.
func CurrentLM(ctx context.Context) lm.LM { return current(ctx).lm }

type lmOption struct{ m lm.LM }

func (o lmOption) applySettings(s *overlay)           { s.lm = o.m }
func (o lmOption) applyPredict(c *predictConfig)      { c.lm = o.m }
func (o adapterOption) applySettings(s *overlay)      { s.adapter = o.a }
func (o adapterOption) applyPredict(c *predictConfig) { c.adapter = o.a }

type adapterOption struct{ a Adapter }

// WithLM sets the LM: the default for every module (Configure, WithSettings),
// or one module's own LM (NewPredict), which wins over settings.
func WithLM(m lm.LM) ModuleOption {
	return lmOption{m}
}

// WithAdapter sets the adapter (default ChatAdapter), as a setting or for one
// module.
func WithAdapter(a Adapter) ModuleOption {
	return adapterOption{a}
}

type optionFunc func(*overlay)

func (f optionFunc) applySettings(s *overlay) { f(s) }

// WithTrace adds trace hooks. Traces compose: every installed trace fires, in
// the order they were added (process default first).
func WithTrace(t *Trace) Option {
	return optionFunc(func(s *overlay) { s.traces = append(s.traces, t) })
}

// WithUsageTracking makes modules that call other modules sum the LM token
// usage into their Prediction's Usage (Predict always reports its own).
func WithUsageTracking(on bool) Option {
	return optionFunc(func(s *overlay) { s.trackUsage = &on })
}

// WithLogger sets the logger used for problems that do not fail a call,
// such as a panicking trace hook. Default slog.Default().
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(s *overlay) { s.logger = l })
}

package dspy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
)

// RefineOption configures NewRefine.
type RefineOption interface {
	applyRefine(*refineConfig)
}

type refineConfig struct {
	failCount  int
	rewardDesc string
}

type refineOptionFunc func(*refineConfig)

func (f refineOptionFunc) applyRefine(c *refineConfig) { f(c) }

// WithRewardDescription describes the reward function to the LM that writes
// Refine's advice. DSPy shows it the reward function's source code, which a
// compiled Go program does not have; without a description the LM sees
// only the threshold and the reward value.
func WithRewardDescription(desc string) RefineOption {
	return refineOptionFunc(func(c *refineConfig) { c.rewardDesc = desc })
}

// Refine runs a module up to N times, one attempt after the other, and
// returns the first prediction whose reward reaches the threshold, or else
// the one with the highest reward: DSPy's Refine. Each attempt has its own
// rollout id at temperature 1.0. After an attempt below the threshold, an
// LM call with DSPy's OfferFeedback signature reads the attempt's trajectory
// (every predictor's inputs and outputs) and writes advice for each
// predictor; in the next attempt each predictor sees its advice as an extra
// input field, "hint_" ("A hint to the module from an earlier run"), as in
// DSPy.
//
// The module is reachable at the path "module"; the feedback predictor is
// not part of the module tree, so listeners and optimizers see only the
// refined module. It uses the LM of the context's settings.
type Refine struct {
	// Module is the module to refine.
	Module    Module
	n         int
	reward    RewardFunc
	threshold float64
	cfg       refineConfig
	feedback  *Predict
}

// NewRefine returns a Refine that runs m up to n times, scoring each
// prediction with reward. n below 1 is taken as 1. A nil reward scores
// every prediction 0.
func NewRefine(m Module, n int, reward RewardFunc, threshold float64, opts ...RefineOption) *Refine {
	r := &Refine{Module: m, n: max(n, 1), reward: reward, threshold: threshold, feedback: NewPredict(offerFeedback)}
	for _, o := range opts {
		o.applyRefine(&r.cfg)
	}
	return r
}

// Submodules implements Submodules: the refined module, at "module".
func (r *Refine) Submodules() []NamedModule {
	return []NamedModule{{Name: "module", Module: r.Module}}
}

// Call runs the module: dspy.Call(ctx, r, in).
func (r *Refine) Call(ctx context.Context, in Inputs) (*Prediction, error) {
	return Call(ctx, r, in)
}

// ACall starts the module and returns its Future.
func (r *Refine) ACall(ctx context.Context, in Inputs) *Future[*Prediction] {
	return ACall(ctx, r, in)
}

// Forward implements Module.
func (r *Refine) Forward(ctx context.Context, in Inputs) (*Prediction, error) {
	if r.Module == nil {
		return nil, errors.New("dspy: Refine: nil Module")
	}
	failLimit := r.cfg.failCount
	if failLimit < 1 {
		failLimit = r.n
	}
	named := NamedPredictors(r.Module)
	var (
		best       *Prediction
		bestReward float64
		failed     int
		lastErr    error
		advice     map[string]string
	)
	for i := range r.n {
		actx := attemptContext(ctx, i)
		if advice != nil {
			actx = withHints(actx, hintsFor(named, advice))
		}
		rec := newRefineTrajectory(named)
		actx = WithSettings(actx, WithTrace(rec.trace()))
		pred, err := Call(actx, r.Module, in)
		if err == nil {
			reward := rewardOf(r.reward, in, pred)
			if best == nil || reward > bestReward {
				best, bestReward = pred, reward
			}
			if reward >= r.threshold {
				return pred, nil
			}
			if i == r.n-1 {
				break
			}
			var a map[string]string
			if a, err = r.advise(ctx, in, named, rec, pred, reward); err == nil {
				advice = a
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil, context.Cause(ctx)
			}
			failed++
			lastErr = err
			current(ctx).logger.WarnContext(ctx, "dspy: Refine: attempt failed", "attempt", i+1, "err", err)
			if failed > failLimit {
				break
			}
		}
	}
	if best == nil || failed > failLimit {
		return nil, fmt.Errorf("%w (%d of %d attempts failed, %d tolerated): %w", ErrTooManyFailures, failed, r.n, failLimit, lastErr)
	}
	return best, nil
}

// advise asks the feedback predictor for advice per predictor path.
func (r *Refine) advise(ctx context.Context, in Inputs, named []NamedPredictor, rec *refineTrajectory, pred *Prediction, reward float64) (map[string]string, error) {
	names := make([]string, len(named))
	for i, np := range named {
		names[i] = np.Path
	}
	rewardDesc := r.cfg.rewardDesc
	if rewardDesc == "" {
		rewardDesc = "(a Go function; its source is not available)"
	}
	out, err := Call(ctx, r.feedback, Inputs{
		"program_code":       fmt.Sprintf("(a Go module of type %T; its source is not available)", r.Module),
		"modules_defn":       describeModules(named),
		"program_inputs":     jsonText(in),
		"program_trajectory": jsonText(rec.steps()),
		"program_outputs":    jsonText(pred),
		"reward_code":        rewardDesc,
		"target_threshold":   r.threshold,
		"reward_value":       reward,
		"module_names":       names,
	})
	if err != nil {
		return nil, fmt.Errorf("dspy: Refine: feedback: %w", err)
	}
	advice := map[string]string{}
	if m, ok := out.Get("advice").(map[string]any); ok {
		for k, v := range m {
			if s, ok := v.(string); ok {
				advice[k] = s
			} else {
				advice[k] = jsonText(v)
			}
		}
	}
	return advice, nil
}

// offerFeedback is DSPy's OfferFeedback signature.
var offerFeedback = &Signature{
	instructions: "In the discussion, assign blame to each module that contributed to the final reward being below the threshold, if\n" +
		"any. Then, prescribe concrete advice of how the module should act on its future input when we retry the process, if\n" +
		"it were to receive the same or similar inputs. If a module is not to blame, the advice should be N/A.\n" +
		"The module will not see its own history, so it needs to rely on entirely concrete and actionable advice from you\n" +
		"to avoid the same mistake on the same or similar inputs.",
	inputs: []Field{
		{Name: "program_code", Desc: "The code of the program that we are analyzing"},
		{Name: "modules_defn", Desc: "The definition of each module in the program, including its I/O"},
		{Name: "program_inputs", Desc: "The inputs to the program that we are analyzing"},
		{Name: "program_trajectory", Desc: "The trajectory of the program's execution, showing each module's I/O"},
		{Name: "program_outputs", Desc: "The outputs of the program that we are analyzing"},
		{Name: "reward_code", Desc: "The code of the reward function that we are analyzing"},
		{Name: "target_threshold", Desc: "The target threshold for the reward function", Type: Float()},
		{Name: "reward_value", Desc: "The reward value assigned to the program's outputs", Type: Float()},
		{Name: "module_names", Desc: "The names of the modules in the program, for which we seek advice", Type: ListOf(Str())},
	},
	outputs: []Field{
		{Name: "discussion", Desc: "Discussing blame of where each module went wrong, if it did"},
		{Name: "advice", Type: DictOf(Str(), Str()), Desc: "For each module, describe very concretely, in this order: the specific scenarios in which it has made " +
			"mistakes in the past and what each mistake was, followed by what it should do differently in that kind of" +
			"scenario in the future. If the module is not to blame, write N/A."},
	},
}

// describeModules lists each predictor's fields and instructions, in the
// layout of DSPy's inspect_modules.
func describeModules(named []NamedPredictor) string {
	sep := strings.Repeat("-", 80)
	indent := func(s string) string { return "\t\t" + strings.ReplaceAll(s, "\n", "\n\t\t") }
	var b strings.Builder
	b.WriteString(sep)
	for _, np := range named {
		sig := np.Predict.Signature()
		var ins, outs strings.Builder
		writeFieldList(&ins, sig.inputs)
		writeFieldList(&outs, sig.outputs)
		fmt.Fprintf(&b, "\nModule %s\n\tInput Fields:\n%s\n\tOutput Fields:\n%s\n\tOriginal Instructions: \n%s\n%s",
			np.Path, indent(ins.String()), indent(outs.String()), indent(sig.Instructions()), sep)
	}
	return b.String()
}

// jsonText renders v as indented JSON, as DSPy does for the feedback
// inputs; a value JSON cannot encode is named by its type.
func jsonText(v any) string {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Sprintf("<non-serializable: %T>", v)
	}
	return string(b)
}

// refineTrajectory records the inputs and outputs of every predictor call of one
// attempt, through a Trace.
type refineTrajectory struct {
	paths map[*Predict]string

	mu      sync.Mutex
	started map[uint64]Inputs
	done    []refineStep
}

type refineStep struct {
	ModuleName string      `json:"module_name"`
	Inputs     Inputs      `json:"inputs"`
	Outputs    *Prediction `json:"outputs"`
}

func newRefineTrajectory(named []NamedPredictor) *refineTrajectory {
	t := &refineTrajectory{paths: make(map[*Predict]string, len(named)), started: map[uint64]Inputs{}}
	for _, np := range named {
		t.paths[np.Predict] = np.Path
	}
	return t
}

func (t *refineTrajectory) trace() *Trace {
	return &Trace{
		ModuleStart: func(_ context.Context, info ModuleStartInfo) {
			if p, ok := info.Module.(*Predict); ok && t.paths[p] != "" {
				t.mu.Lock()
				t.started[info.ID] = info.Inputs
				t.mu.Unlock()
			}
		},
		ModuleEnd: func(_ context.Context, info ModuleEndInfo) {
			p, ok := info.Module.(*Predict)
			if !ok || t.paths[p] == "" {
				return
			}
			t.mu.Lock()
			defer t.mu.Unlock()
			in, ok := t.started[info.ID]
			delete(t.started, info.ID)
			if ok && info.Err == nil && info.Prediction != nil {
				t.done = append(t.done, refineStep{ModuleName: t.paths[p], Inputs: in, Outputs: info.Prediction})
			}
		},
	}
}

func (t *refineTrajectory) steps() []refineStep {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]refineStep{}, t.done...)
}

// hintField is the input DSPy's Refine adds to each predictor after a failed
// attempt.
var hintField = Field{Name: "hint_", Desc: "A hint to the module from an earlier run"}

// refineHint is one predictor's advice and its signature with the hint field.
type refineHint struct {
	sig  *Signature
	text string
}

type hintsKey struct{}

// hintsFor gives every predictor its advice, "N/A" when the feedback named
// none, as DSPy does.
func hintsFor(named []NamedPredictor, advice map[string]string) map[*Predict]refineHint {
	hs := make(map[*Predict]refineHint, len(named))
	for _, np := range named {
		sig := np.Predict.Signature()
		if _, clash := sig.Input(hintField.Name); clash {
			continue
		}
		text, ok := advice[np.Path]
		if !ok {
			text = "N/A"
		}
		// Keep the instructions the predictor has without the hint: an empty
		// Instructions would otherwise name hint_ among the task's fields.
		hs[np.Predict] = refineHint{sig: sig.WithInstructions(sig.Instructions()).AppendInput(hintField), text: text}
	}
	return hs
}

// withHints returns a context in which the given predictors see a hint; an
// enclosing Refine's hints for other predictors stay.
func withHints(ctx context.Context, hs map[*Predict]refineHint) context.Context {
	if outer, ok := ctx.Value(hintsKey{}).(map[*Predict]refineHint); ok {
		merged := maps.Clone(outer)
		maps.Copy(merged, hs)
		hs = merged
	}
	return context.WithValue(ctx, hintsKey{}, hs)
}

// withHint returns the signature and inputs p formats its prompt with:
// its own, or, under a Refine that has advice for p, both extended with the
// "hint_" field. Predict calls it on each run.
func withHint(ctx context.Context, p *Predict, in Inputs) (*Signature, Inputs) {
	hs, ok := ctx.Value(hintsKey{}).(map[*Predict]refineHint)
	if !ok {
		return p.sig, in
	}
	h, ok := hs[p]
	if !ok {
		return p.sig, in
	}
	withHint := maps.Clone(in)
	if withHint == nil {
		withHint = Inputs{}
	}
	withHint[hintField.Name] = h.text
	return h.sig, withHint
}

package dspy

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// MultiChainComparison compares M reasoning attempts at a task and writes a
// corrected rationale and a final answer: DSPy's MultiChainComparison.
//
// Its predictor's signature is the task's, with the inputs
// reasoning_attempt_1 … reasoning_attempt_M ("${reasoning attempt}") added
// and the output "rationale" ("${corrected reasoning}") put first. Each
// attempt is shown as «I'm trying to RATIONALE I'm not sure but my
// prediction is ANSWER», from the first line of the attempt's rationale (or
// reasoning) and of its last output field.
//
// Forward produces the M attempts itself, concurrently, with a
// ChainOfThought over the task's signature (each with its own rollout id);
// Compare takes attempts you already have. The comparing predictor is at
// the path "predict", the attempts' ChainOfThought at "attempts.predict".
type MultiChainComparison struct {
	// Predict compares the attempts.
	Predict *Predict
	// Attempts produces the attempts when Forward is given none.
	Attempts *ChainOfThought
	m        int
	lastKey  string
}

// NewMultiChainComparison returns a MultiChainComparison of m attempts over
// sig (a string or a *Signature), which must have an output field. Its
// predictor samples at temperature 0.7, as DSPy's does; opts configure it
// and may change that. m below 1 is taken as 1.
func NewMultiChainComparison[S string | *Signature](sig S, m int, opts ...PredictOption) *MultiChainComparison {
	task := toSignature(sig)
	m = max(m, 1)
	lastKey := ""
	if n := len(task.outputs); n > 0 {
		lastKey = task.outputs[n-1].Name
	}
	// DSPy keeps the task's instructions, written for its own fields.
	cmp := task.WithInstructions(task.Instructions())
	for i := range m {
		cmp = cmp.AppendInput(Field{Name: attemptField(i), Desc: "${reasoning attempt}"})
	}
	cmp = cmp.PrependOutput(Field{Name: "rationale", Desc: "${corrected reasoning}"})
	return &MultiChainComparison{
		Predict:  NewPredict(cmp, append([]PredictOption{WithTemperature(0.7)}, opts...)...),
		Attempts: NewChainOfThought(task),
		m:        m,
		lastKey:  lastKey,
	}
}

func attemptField(i int) string { return fmt.Sprintf("reasoning_attempt_%d", i+1) }

// M returns the number of attempts compared.
func (c *MultiChainComparison) M() int { return c.m }

// Call runs the module: dspy.Call(ctx, c, in).
func (c *MultiChainComparison) Call(ctx context.Context, in Inputs) (*Prediction, error) {
	return Call(ctx, c, in)
}

// ACall starts the module and returns its Future.
func (c *MultiChainComparison) ACall(ctx context.Context, in Inputs) *Future[*Prediction] {
	return ACall(ctx, c, in)
}

// Forward implements Module: it runs M attempts of the task at once (each
// with its own rollout id at temperature 1.0, unless the attempts'
// predictor has a temperature of its own), then compares them. The first
// failed attempt cancels the others and is returned.
func (c *MultiChainComparison) Forward(ctx context.Context, in Inputs) (*Prediction, error) {
	if c.lastKey == "" {
		return nil, errors.New("dspy: MultiChainComparison: the signature has no output field")
	}
	futs := make([]*Future[*Prediction], c.m)
	for i := range futs {
		futs[i] = ACall(attemptContext(ctx, i), c.Attempts, in)
	}
	attempts, err := Gather(ctx, futs...)
	if err != nil {
		return nil, fmt.Errorf("dspy: MultiChainComparison: attempt: %w", err)
	}
	return c.Compare(ctx, attempts, in)
}

// Compare compares the given attempts, which must number M, and returns the
// corrected rationale and answer: DSPy's forward(completions, **kwargs). Each
// attempt needs a "rationale" or "reasoning" field and the task's last
// output field. For one prediction holding n completions, pass
// CompletionsOf(pred).
func (c *MultiChainComparison) Compare(ctx context.Context, attempts []*Prediction, in Inputs) (*Prediction, error) {
	if c.lastKey == "" {
		return nil, errors.New("dspy: MultiChainComparison: the signature has no output field")
	}
	if len(attempts) != c.m {
		return nil, fmt.Errorf("dspy: MultiChainComparison: got %d attempts, want M = %d", len(attempts), c.m)
	}
	all := make(Inputs, len(in)+c.m)
	for i, a := range attempts {
		text, err := c.formatAttempt(a)
		if err != nil {
			return nil, fmt.Errorf("dspy: MultiChainComparison: attempt %d: %w", i+1, err)
		}
		all[attemptField(i)] = text
	}
	for k, v := range in {
		all[k] = v
	}
	return Call(ctx, c.Predict, all)
}

// formatAttempt writes one attempt as DSPy shows it to the comparing LM.
func (c *MultiChainComparison) formatAttempt(a *Prediction) (string, error) {
	field := "rationale"
	if !a.Has(field) {
		field = "reasoning"
	}
	if !a.Has(field) {
		return "", errors.New(`the prediction has neither a "rationale" nor a "reasoning" field`)
	}
	if !a.Has(c.lastKey) {
		return "", fmt.Errorf("the prediction has no %q field", c.lastKey)
	}
	return "«I'm trying to " + firstLine(a.String(field)) + " I'm not sure but my prediction is " + firstLine(a.String(c.lastKey)) + "»", nil
}

// firstLine returns the first line of s, trimmed, as DSPy's
// s.strip().split("\n")[0].strip().
func firstLine(s string) string {
	s = strings.TrimSpace(s)
	s, _, _ = strings.Cut(s, "\n")
	return strings.TrimSpace(s)
}

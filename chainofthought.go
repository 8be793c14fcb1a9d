package dspy

import "context"

// ChainOfThought is Predict with a "reasoning" output added before the
// signature's outputs, so the LM thinks step by step before it answers.
// Its inner predictor is reachable at the path "predict".
type ChainOfThought struct {
	predict *Predict
}

// reasoningField is the field DSPy's ChainOfThought prepends.
var reasoningField = Field{Name: "reasoning", Type: Str()}

// NewChainOfThought returns a ChainOfThought over sig (a string or a
// *Signature); options configure its inner Predict.
func NewChainOfThought[S string | *Signature](sig S, opts ...PredictOption) *ChainOfThought {
	return &ChainOfThought{predict: NewPredict(toSignature(sig).PrependOutput(reasoningField), opts...)}
}

// Predictor returns the inner Predict.
func (c *ChainOfThought) Predictor() *Predict { return c.predict }

// Signature returns the extended signature (with "reasoning").
func (c *ChainOfThought) Signature() *Signature { return c.predict.sig }

// Forward implements Module.
func (c *ChainOfThought) Forward(ctx context.Context, in Inputs) (*Prediction, error) {
	return Call(ctx, c.predict, in)
}

// Call runs the module: dspy.Call(ctx, c, in).
func (c *ChainOfThought) Call(ctx context.Context, in Inputs) (*Prediction, error) {
	return Call(ctx, c, in)
}

// ACall starts the module and returns its Future.
func (c *ChainOfThought) ACall(ctx context.Context, in Inputs) *Future[*Prediction] {
	return ACall(ctx, c, in)
}

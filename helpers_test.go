package dspy

import (
	"github.com/google/go-cmp/cmp"

	"github.com/godspy/dspy/lm"
)

func usage(prompt, completion int) lm.Usage {
	return lm.Usage{PromptTokens: prompt, CompletionTokens: completion, TotalTokens: prompt + completion}
}

// allowSig lets cmp compare signatures and types, whose fields are
// unexported so that they stay immutable.
var allowSig = cmp.AllowUnexported(Signature{}, Type{})

package dspy

import "github.com/godspy/dspy/lm"

func usage(prompt, completion int) lm.Usage {
	return lm.Usage{PromptTokens: prompt, CompletionTokens: completion, TotalTokens: prompt + completion}
}

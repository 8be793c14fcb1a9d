package main

import (
	"fmt"

	"github.com/godspy/dspy"
	"github.com/godspy/dspy/lm"
)

// lmChoice is the LM a run uses and how it was picked.
type lmChoice struct {
	model lm.LM // nil for the demo LM, built with the program's pace
	label string
	demo  bool
	// banner is the first line of output: which LM, and for the demo LM
	// how to use a real one.
	banner string
}

// keyDefaults maps a provider's key variable to the model used when only
// the key is set, in the order they are tried.
var keyDefaults = []struct{ env, model string }{
	{"OPENAI_API_KEY", "openai/gpt-4o-mini"},
	{"ANTHROPIC_API_KEY", "anthropic/claude-sonnet-4-5"},
	{"GEMINI_API_KEY", "gemini/gemini-2.5-flash"},
	{"GROQ_API_KEY", "groq/llama-3.3-70b-versatile"},
	{"OPENROUTER_API_KEY", "openrouter/openai/gpt-4o-mini"},
	{"DEEPSEEK_API_KEY", "deepseek/deepseek-chat"},
}

// demoBanner is the first output line of a run on the demo LM.
const demoBanner = "Offline demo LM (scripted, no model): answers are canned text streamed at a human pace. " +
	"For a real model set OPENAI_API_KEY (or ANTHROPIC_API_KEY, GEMINI_API_KEY, ...), " +
	"or pass --lm ollama_chat/llama3.2 for a local Ollama, or --lm openai/MODEL --base-url URL for any OpenAI-compatible server."

// chooseLM picks the LM: --lm if given ("demo" forces the demo LM), else
// DSPY_LM, else the first provider whose API key is set, else the demo LM.
func chooseLM(name, baseURL string, getenv func(string) string) (lmChoice, error) {
	source := "--lm"
	if name == "" {
		if name = getenv("DSPY_LM"); name != "" {
			source = "DSPY_LM"
		}
	}
	if name == "" && baseURL != "" {
		return lmChoice{}, fmt.Errorf("%w: --base-url needs --lm naming the model, e.g. --lm openai/MODEL --base-url %s", errUsage, baseURL)
	}
	if name == "" {
		for _, k := range keyDefaults {
			if getenv(k.env) != "" {
				name, source = k.model, k.env+" is set"
				break
			}
		}
	}
	if name == "" || name == demoLMName {
		return lmChoice{label: "the demo LM", demo: true, banner: demoBanner}, nil
	}
	var opts []dspy.LMOption
	if baseURL != "" {
		opts = append(opts, dspy.WithBaseURL(baseURL))
	}
	model, err := dspy.NewLM(name, opts...)
	if err != nil {
		return lmChoice{}, fmt.Errorf("%w: %w", errUsage, err)
	}
	return lmChoice{model: model, label: name,
		banner: fmt.Sprintf("Using %s (%s; --lm picks another, --lm demo the offline demo LM).", name, source)}, nil
}

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
// the key is set, in the order they are tried: dspy.LMNameFromEnv's table
// (which reads the process environment; the command reads its own getenv).
var keyDefaults = []struct{ env, model string }{
	{"OPENAI_API_KEY", "openai/gpt-4o-mini"},
	{"ANTHROPIC_API_KEY", "anthropic/claude-sonnet-4-5"},
	{"GEMINI_API_KEY", "gemini/gemini-2.5-flash"},
	{"GROQ_API_KEY", "groq/llama-3.3-70b-versatile"},
	{"OPENROUTER_API_KEY", "openrouter/openai/gpt-4o-mini"},
	{"DEEPSEEK_API_KEY", "deepseek/deepseek-chat"},
}

// demoBanner is the first output of a run on the demo LM: two lines that
// fit 80 columns.
const demoBanner = "Offline demo LM: canned answers at a human pace; no model is called.\n" +
	"For a real one set OPENAI_API_KEY, or --lm ollama_chat/llama3.2 (see --help)."

// dotenvMark prefixes the variables main's getenv answers "1" for when it
// set them from the .env file, so the banner can say where a key came from.
const dotenvMark = "dspy.dotenv:"

// chooseLM picks the LM: --lm if given ("demo" forces the demo LM), else
// DSPY_LM, else the first provider whose API key is set, else the demo LM.
func chooseLM(name, baseURL string, getenv func(string) string, extra ...dspy.LMOption) (lmChoice, error) {
	source := "from --lm"
	if name == "" {
		if name = getenv("DSPY_LM"); name != "" {
			source = "from DSPY_LM" + dotenvNote(getenv, "DSPY_LM")
		}
	}
	if name == "" && baseURL != "" {
		return lmChoice{}, fmt.Errorf("%w: --base-url needs --lm naming the model, e.g. --lm openai/MODEL --base-url %s", errUsage, baseURL)
	}
	if name == "" {
		for _, k := range keyDefaults {
			if getenv(k.env) != "" {
				name, source = k.model, k.env+" is set"+dotenvNote(getenv, k.env)
				break
			}
		}
	}
	if name == "" || name == demoLMName {
		return lmChoice{label: "the demo LM", demo: true, banner: demoBanner}, nil
	}
	opts := extra[:len(extra):len(extra)]
	if baseURL != "" {
		opts = append(opts, dspy.WithBaseURL(baseURL))
	}
	model, err := dspy.NewLM(name, opts...)
	if err != nil {
		return lmChoice{}, fmt.Errorf("%w: %w", errUsage, err)
	}
	return lmChoice{model: model, label: name, banner: fmt.Sprintf("Using %s (%s).", name, source)}, nil
}

// dotenvNote is " in .env" when getenv's key came from the .env file.
func dotenvNote(getenv func(string) string, key string) string {
	if getenv(dotenvMark+key) == "1" {
		return " in .env"
	}
	return ""
}

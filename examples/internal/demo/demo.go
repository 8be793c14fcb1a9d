// Package demo picks the LM the examples run on: a real provider when one is
// configured, else a scripted, offline LM that streams at a human pace.
package demo

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/godspy/dspy"
	"github.com/godspy/dspy/dspytest"
	"github.com/godspy/dspy/lm"
)

// Name returns the LM an example should use: DSPY_LM when set (for example
// "ollama_chat/llama3.2"), "openai/gpt-4o-mini" when OPENAI_API_KEY is set,
// else "" for the offline LM.
func Name() string {
	name := os.Getenv("DSPY_LM")
	if name == "" && os.Getenv("OPENAI_API_KEY") != "" {
		name = "openai/gpt-4o-mini"
	}
	return name
}

// LM returns the real LM Name picks, or an offline LM that answers with the
// given replies in turn. It says on log (stderr in the examples) which.
func LM(log io.Writer, replies ...string) (lm.LM, error) {
	return Pick(log, func() lm.LM { return Scripted(replies...) })
}

// Pick returns the real LM Name picks, or offline() when none is
// configured, and says on log which.
func Pick(log io.Writer, offline func() lm.LM) (lm.LM, error) {
	if name := Name(); name != "" {
		fmt.Fprintf(log, "(using %s)\n", name)
		return dspy.NewLM(name)
	}
	fmt.Fprintln(log, "(offline demo LM: set OPENAI_API_KEY, or DSPY_LM=ollama_chat/llama3.2, to use a real model)")
	return offline(), nil
}

// Pace is the offline LM's delay between chunks; tests set it to zero.
var pace = 12 * time.Millisecond

// SetFast removes the offline LM's delays (for tests of the examples).
func SetFast() { pace = 0 }

// Scripted returns the offline LM: the replies cycle, streamed four bytes at
// a time at a human pace.
func Scripted(replies ...string) *dspytest.ScriptedLM {
	var mu sync.Mutex
	i := 0
	m := dspytest.NewScriptedLMFunc(func(*lm.Request) (dspytest.Reply, error) {
		mu.Lock()
		defer mu.Unlock()
		r := replies[i%len(replies)]
		i++
		return dspytest.Reply{Text: r}, nil
	})
	m.ChunkSize = 4
	m.ChunkDelay = pace
	m.Latency = 10 * pace
	return m
}

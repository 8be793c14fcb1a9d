//go:build !bench_only || bench_godspy

package main

import (
	"context"
	"net/http"
	"time"

	"github.com/godspy/dspy"
	"github.com/godspy/dspy/lm/openai"
	"github.com/godspy/dspy/streaming"
	"github.com/godspy/dspy/streaming/resume"
)

// The W5 godspy servers: the godspy contender's program (NewPredict with
// its own LM, streamified with a listener on answer) served by
// streaming.Handler with its defaults, with the trace events, and with
// resumable runs in the memory store.
func init() {
	w5Servers["godspy"] = func(lmURL string) (http.Handler, func(), error) { return w5Godspy(lmURL, false, false) }
	w5Servers["godspy-events"] = func(lmURL string) (http.Handler, func(), error) { return w5Godspy(lmURL, true, false) }
	w5Servers["godspy-resume"] = func(lmURL string) (http.Handler, func(), error) { return w5Godspy(lmURL, false, true) }
	// A row of W5 alone (w5Runs): its client in the other workloads would
	// be godspy's.
	register(contender{
		name:        "godspy-resume",
		note:        "W5 only: godspy's program served by streaming.Handler WithResume(streaming.NewRuns(resume.NewMemory()))",
		fieldStream: true,
		setup:       func(url string) (client, error) { return contenders["godspy"].setup(url) },
	})
}

func w5Godspy(lmURL string, events, resumable bool) (http.Handler, func(), error) {
	model := openai.New("bench-model", openai.WithBaseURL(lmURL), openai.WithAPIKey("sk-bench"))
	p := dspy.NewPredict("question -> answer", dspy.WithLM(model))
	opts := []streaming.Option{streaming.WithListeners(streaming.NewListener("answer"))}
	if events {
		opts = append(opts, streaming.WithTraceEvents())
	}
	prog, err := streaming.Streamify(p, opts...)
	if err != nil {
		return nil, nil, err
	}
	mux := http.NewServeMux()
	if !resumable {
		mux.Handle(w5Path, streaming.Handler(prog))
		return mux, func() {}, nil
	}
	// The default bound of 1,000 runs is W5's full size exactly; a run's
	// slot is freed just after its stream ends, so leave room.
	runs := streaming.NewRuns(resume.NewMemory(), streaming.WithMaxRuns(10_000))
	h := streaming.Handler(prog, streaming.WithResume(runs))
	mux.Handle(w5Path, h)
	mux.Handle(w5Path+"/{id}", h)
	return mux, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		runs.Shutdown(ctx)
	}, nil
}

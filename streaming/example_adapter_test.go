package streaming_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/godspy/dspy"
	"github.com/godspy/dspy/dspytest"
	"github.com/godspy/dspy/lm"
	"github.com/godspy/dspy/streaming"
)

// trimAdapter is a custom adapter for signatures with one output: the
// prompt states the task and the inputs, and the whole reply, trimmed, is
// the output. It streams because it implements dspy.StreamingAdapter.
type trimAdapter struct{}

func (trimAdapter) Format(sig *dspy.Signature, _ []dspy.Example, in dspy.Inputs, req *lm.Request) error {
	var b strings.Builder
	for _, f := range sig.Inputs() {
		fmt.Fprintf(&b, "%s: %v\n", f.Name, in[f.Name])
	}
	req.Messages = []lm.Message{
		{Role: lm.RoleSystem, Content: sig.Instructions() + " Reply with the " + sig.Outputs()[0].Name + " only."},
		{Role: lm.RoleUser, Content: b.String()},
	}
	return nil
}

func (trimAdapter) Parse(sig *dspy.Signature, text string) (map[string]any, error) {
	return map[string]any{sig.Outputs()[0].Name: strings.TrimSpace(text)}, nil
}

// NewFieldParser keeps the listener contract: the chunks concatenate to
// exactly what Parse returns. Leading space is dropped, and trailing space
// is held back until more text shows it was not trailing.
func (trimAdapter) NewFieldParser(sig *dspy.Signature) dspy.FieldParser {
	return &trimParser{field: sig.Outputs()[0].Name}
}

type trimParser struct {
	field   string
	started bool
	held    string // white space that may turn out to be trailing
}

func (p *trimParser) Write(text string, emit func(dspy.FieldChunk)) {
	if !p.started {
		text = strings.TrimLeft(text, " \t\r\n")
		p.started = text != ""
	}
	text = p.held + text
	body := strings.TrimRight(text, " \t\r\n")
	p.held = text[len(body):]
	if body != "" {
		emit(dspy.FieldChunk{Field: p.field, Text: body})
	}
}

func (p *trimParser) Close(emit func(dspy.FieldChunk)) {
	emit(dspy.FieldChunk{Field: p.field, Last: true})
}

// A custom adapter streams its fields when it implements
// dspy.StreamingAdapter: NewFieldParser splits the reply into field chunks
// as it arrives.
func Example_streamingAdapter() {
	model := dspytest.NewScriptedLM("  Mostly the Moon.  \n")
	ctx := dspy.WithSettings(context.Background(), dspy.WithLM(model))
	prog := streaming.MustStreamify(dspy.NewPredict("question -> answer", dspy.WithAdapter(trimAdapter{})),
		streaming.WithListeners(streaming.NewListener("answer")))
	for ev, err := range prog.Stream(ctx, dspy.Inputs{"question": "What causes tides?"}) {
		if err != nil {
			fmt.Println("error:", err)
			return
		}
		switch e := ev.(type) {
		case *streaming.StreamResponse:
			fmt.Printf("%q last=%v\n", e.Chunk, e.IsLastChunk)
		case *streaming.Final:
			fmt.Printf("final: %q\n", e.Prediction.Get("answer"))
		}
	}
	// Output:
	// "Mo" last=false
	// "stly" last=false
	// " the" last=false
	// " Moo" last=false
	// "n." last=false
	// "" last=true
	// final: "Mostly the Moon."
}

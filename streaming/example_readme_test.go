package streaming_test

import (
	"context"
	"fmt"

	"github.com/godspy/dspy"
	"github.com/godspy/dspy/dspytest"
	"github.com/godspy/dspy/streaming"
)

// myStatus is the README's status provider: DSPy's defaults (messages for
// tool calls) plus one while the LM is called, so a ChainOfThought, which
// calls no tool, shows one too.
type myStatus struct{ streaming.DefaultStatus }

func (myStatus) LMStart(dspy.LMStartInfo) string { return "Thinking..." }

// The README's streaming snippet, as it is there (with a scripted LM in
// place of the configured one).
func Example_readme() {
	ctx := dspy.WithSettings(context.Background(), dspy.WithLM(dspytest.NewScriptedLM(
		dspytest.ChatReply("reasoning", "The Moon pulls the oceans.", "answer", "Mostly the Moon's gravity."))))

	prog, err := streaming.Streamify(dspy.NewChainOfThought("question -> answer"),
		streaming.WithListeners(streaming.NewListener("answer")),
		streaming.WithStatus(myStatus{}))
	if err != nil {
		fmt.Println(err)
		return
	}
	for ev, err := range prog.Stream(ctx, dspy.Inputs{"question": "What causes tides?"}) {
		if err != nil {
			fmt.Println(err)
			return
		}
		switch e := ev.(type) {
		case *streaming.StatusMessage:
			fmt.Println("[", e.Message, "]")
		case *streaming.StreamResponse:
			fmt.Print(e.Chunk)
		case *streaming.Final:
			fmt.Println("\n", e.Prediction.Get("answer"))
		}
	}
	// Output:
	// [ Thinking... ]
	// Mostly the Moon's gravity.
	//  Mostly the Moon's gravity.
}

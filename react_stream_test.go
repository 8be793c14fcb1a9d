package dspy_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/godspy/dspy"
	"github.com/godspy/dspy/dspytest"
	"github.com/godspy/dspy/lm"
	"github.com/godspy/dspy/streaming"
)

// TestReActStreamsThroughTheLoop streams an agent's three iterations: an
// WithAllowReuse listener on next_thought streams every iteration, a listener
// bound to the extract step streams the answer, the default status
// messages come for each tool call and never for finish, all in order.
func TestReActStreamsThroughTheLoop(t *testing.T) {
	for _, native := range []bool{false, true} {
		t.Run(fmt.Sprintf("native=%v", native), func(t *testing.T) {
			model := dspytest.NewScriptedLM()
			var opts []dspy.ReActOption
			if native {
				opts = append(opts, dspy.WithNativeTools())
				call := func(args string) []lm.ToolCall { return []lm.ToolCall{{ID: "c", Name: "add", Arguments: args}} }
				model.Push(
					dspytest.Reply{Text: dspytest.ChatReply("next_thought", "First add 1 and 2."), ToolCalls: call(`{"x": 1, "y": 2}`)},
					dspytest.Reply{Text: dspytest.ChatReply("next_thought", "Then add 3 and 4."), ToolCalls: call(`{"x": 3, "y": 4}`)},
					dspytest.Reply{Text: dspytest.ChatReply("next_thought", "Both sums are known.")},
				)
			} else {
				model.Push(
					dspytest.Reply{Text: stepReply("First add 1 and 2.", "add", `{"x": 1, "y": 2}`)},
					dspytest.Reply{Text: stepReply("Then add 3 and 4.", "add", `{"x": 3, "y": 4}`)},
					dspytest.Reply{Text: stepReply("Both sums are known.", "finish", "{}")},
				)
			}
			model.Push(dspytest.Reply{Text: answerReply("3 and 7")})
			model.ChunkSize = 3
			agent := dspy.NewReAct("question -> answer", []*dspy.Tool{addTool()}, opts...)
			prog := streaming.MustStreamify(agent,
				streaming.WithListeners(
					streaming.NewListener("next_thought", streaming.WithAllowReuse()),
					streaming.NewListener("answer", streaming.WithPredictName("extract")),
				),
				streaming.WithStatus(streaming.DefaultStatus{}))

			var got []string
			var cur *strings.Builder
			for ev, err := range prog.Stream(withLM(model), dspy.Inputs{"question": "1+2 and 3+4?"}) {
				if err != nil {
					t.Fatalf("Stream: %v", err)
				}
				switch e := ev.(type) {
				case *streaming.StreamResponse:
					if cur == nil {
						cur = &strings.Builder{}
					}
					cur.WriteString(e.Chunk)
					if e.IsLastChunk {
						got = append(got, e.PredictName+"."+e.SignatureFieldName+": "+cur.String())
						cur = nil
					}
				case *streaming.StatusMessage:
					got = append(got, "status: "+e.Message)
				case *streaming.Final:
					got = append(got, "final: "+e.Prediction.String("answer")+fmt.Sprintf(" (%d steps)", len(e.Prediction.Trajectory)))
				}
			}
			want := []string{
				"react.next_thought: First add 1 and 2.",
				"status: Calling tool add...",
				"status: Tool calling finished! Querying the LLM with tool calling results...",
				"react.next_thought: Then add 3 and 4.",
				"status: Calling tool add...",
				"status: Tool calling finished! Querying the LLM with tool calling results...",
				"react.next_thought: Both sums are known.",
				"extract.predict.answer: 3 and 7",
				"final: 3 and 7 (3 steps)",
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
		})
	}
}

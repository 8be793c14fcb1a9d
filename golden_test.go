package dspy

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/godspy/dspy/lm"
)

// updateGolden rewrites testdata/golden/* instead of comparing with them:
// go test -run Golden -update .
var updateGolden = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

type dspyExchange struct {
	SourceFile  string `json:"source_file"`
	Interaction int    `json:"interaction"`
	Request     struct {
		Messages []struct {
			Role    string `json:"role"`
			Content string `json:"content"`
		} `json:"messages"`
	} `json:"request"`
	ResponseContent string `json:"response_content"`
}

func loadExchanges(t *testing.T) []dspyExchange {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "dspy", "chatadapter_exchanges.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		About     string         `json:"about"`
		Exchanges []dspyExchange `json:"exchanges"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	if f.About == "" || len(f.Exchanges) == 0 {
		t.Fatal("chatadapter_exchanges.json: missing about or exchanges")
	}
	return f.Exchanges
}

// goldenReactInstructions is the instruction text DSPy's ReAct builds for the
// signature "question -> answer" with the tools add(x: int, y: int) and
// finish, as recorded in test_react[True].yaml.
var goldenReactInstructions = strings.Join([]string{
	"Given the fields `question`, produce the fields `answer`.",
	"",
	"You are an Agent. In each episode, you will be given the fields `question` as input. And you can see your past trajectory so far.",
	"Your goal is to use one or more of the supplied tools to collect any necessary information for producing `answer`.",
	"",
	"To do this, you will interleave next_thought, next_tool_name, and next_tool_args in each turn, and also when finishing the task.",
	"After each tool call, you receive a resulting observation, which gets appended to your trajectory.",
	"",
	"When writing next_thought, you may reason about the current situation and plan for future steps.",
	"When selecting the next_tool_name and its next_tool_args, the tool must be one of:",
	"",
	"(1) add. It takes arguments {'x': {'type': 'integer'}, 'y': {'type': 'integer'}} in JSON format.",
	"(2) finish, whose description is <desc>Marks the task as complete. That is, signals that all infomration for producing the outputs, i.e. `answer`, are now available to be extracted.</desc>. It takes arguments {} in JSON format.",
}, "\n")

const (
	goldenThought0 = "I need to perform the addition of 2 and 2 to answer the question."
	goldenThought1 = "I have completed the addition and found that 2 + 2 equals 4. I can now finish the task as I have all the information needed to answer the question."
)

// goldenTrajectory0 and goldenTrajectory1 are ReAct's trajectory input after one and two
// steps.
var (
	goldenTrajectory0 = "[[ ## thought_0 ## ]]\n" + goldenThought0 +
		"\n\n[[ ## tool_name_0 ## ]]\nadd" +
		"\n\n[[ ## tool_args_0 ## ]]\n{\"x\": 2, \"y\": 2}" +
		"\n\n[[ ## observation_0 ## ]]\n4"
	goldenTrajectory1 = goldenTrajectory0 +
		"\n\n[[ ## thought_1 ## ]]\n" + goldenThought1 +
		"\n\n[[ ## tool_name_1 ## ]]\nfinish" +
		"\n\n[[ ## tool_args_1 ## ]]\n{}" +
		"\n\n[[ ## observation_1 ## ]]\nCompleted."
)

// goldenCase is how one recorded exchange is rebuilt: the signature, layout,
// demos and inputs, and the values its response must parse to.
type goldenCase struct {
	sig    *Signature
	layout ChatLayout
	demos  []Example
	in     Inputs
	want   map[string]any
}

func exchangeCases(t *testing.T) map[string]goldenCase {
	t.Helper()
	qa := MustSignature("question -> answer")
	cot := MustSignature("question -> answer").
		WithInstructions("Answer questions with short factoid answers.").
		WithOutputs(Field{Name: "answer", Desc: "often between 1 and 5 words"}).
		PrependOutput(Field{Name: "reasoning"})
	step := MustSignature("question, trajectory -> next_thought, next_tool_name: Literal['add', 'finish'], next_tool_args: dict[str, Any]").
		WithInstructions(goldenReactInstructions)
	// ReAct's extract step keeps the instructions of the user's signature.
	extract := MustSignature("question, trajectory -> reasoning, answer").
		WithInstructions(qa.Instructions())

	const q1, q2 = "What is 1 + 1?", "What is 2 + 2?"
	ans := map[string]string{q1: "2", q2: "4"}
	compilation := func(demoQ, q string) goldenCase {
		c := goldenCase{sig: qa, layout: LayoutDSPy25, in: Inputs{"question": q}, want: map[string]any{"answer": ans[q]}}
		if demoQ != "" {
			c.demos = []Example{{"question": demoQ, "answer": ans[demoQ]}}
		}
		return c
	}
	capital := goldenCase{
		sig: cot, layout: LayoutDSPy25,
		in: Inputs{"question": "What's the capital of the United States?"},
		want: map[string]any{
			"reasoning": "The capital of a country is a well-established fact. The capital of the United States is a widely known piece of information.",
			"answer":    "Washington, D.C.",
		},
	}
	return map[string]goldenCase{
		"test_compilation.yaml#0":                         compilation("", q2),
		"test_compilation.yaml#1":                         compilation("", q1),
		"test_compilation.yaml#2":                         compilation(q1, q2),
		"test_compilation.yaml#3":                         compilation(q1, q1),
		"test_compilation.yaml#4":                         compilation(q1, q2),
		"test_compilation.yaml#5":                         compilation(q2, q2),
		"test_compilation.yaml#6":                         compilation(q2, q1),
		"test_compilation.yaml#7":                         compilation(q1, q2),
		"test_compilation.yaml#8":                         compilation(q2, q2),
		"test_compilation.yaml#9":                         compilation(q2, q1),
		"test_rag_module[True].yaml#1":                    capital,
		"test_context_attributes_are_instrumented.yaml#1": capital,
		"test_react[True].yaml#0": {
			sig: step, in: Inputs{"question": q2, "trajectory": ""},
			want: map[string]any{
				"next_thought":   goldenThought0,
				"next_tool_name": "add",
				"next_tool_args": map[string]any{"x": 2.0, "y": 2.0},
			},
		},
		"test_react[True].yaml#1": {
			sig: step, in: Inputs{"question": q2, "trajectory": goldenTrajectory0},
			want: map[string]any{
				"next_thought":   goldenThought1,
				"next_tool_name": "finish",
				"next_tool_args": map[string]any{},
			},
		},
		"test_react[True].yaml#2": {
			sig: extract, in: Inputs{"question": q2, "trajectory": goldenTrajectory1},
			want: map[string]any{
				"reasoning": "To answer the question, I performed the addition of 2 and 2. The result of this calculation is 4, which directly answers the question posed.",
				"answer":    "4",
			},
		},
	}
}

// TestGoldenDSPyExchanges rebuilds every request DSPy sent in the recorded
// exchanges and compares the messages byte for byte, then parses the
// recorded reply.
func TestGoldenDSPyExchanges(t *testing.T) {
	cases := exchangeCases(t)
	seen := map[string]bool{}
	for _, ex := range loadExchanges(t) {
		name := fmt.Sprintf("%s#%d", ex.SourceFile, ex.Interaction)
		t.Run(name, func(t *testing.T) {
			c, ok := cases[name]
			if !ok {
				t.Fatalf("no case for exchange %s", name)
			}
			seen[name] = true
			a := ChatAdapter{Layout: c.layout}
			var req lm.Request
			if err := a.Format(c.sig, c.demos, c.in, &req); err != nil {
				t.Fatalf("Format: %v", err)
			}
			type msg struct{ Role, Content string }
			var want, got []msg
			for _, m := range ex.Request.Messages {
				want = append(want, msg{m.Role, m.Content})
			}
			for _, m := range req.Messages {
				got = append(got, msg{string(m.Role), m.Content})
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("Format messages mismatch (-want +got):\n%s", d)
			}
			vals, err := a.Parse(c.sig, ex.ResponseContent)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if d := cmp.Diff(c.want, vals); d != "" {
				t.Errorf("Parse mismatch (-want +got):\n%s", d)
			}
		})
	}
	for name := range cases {
		if !seen[name] {
			t.Errorf("case %s matches no recorded exchange", name)
		}
	}
}

// goldenSignature is the two-in/two-out signature of the adapter golden
// files.
func goldenSignature() *Signature {
	return &Signature{
		instructions: "Answer the question using the context.\nBe brief.",
		inputs: []Field{
			{Name: "context", Type: ListOf(Str()), Desc: "facts that may help"},
			{Name: "question"},
		},
		outputs: []Field{
			{Name: "answer", Desc: "a short answer"},
			{Name: "confidence", Type: Float()},
		},
	}
}

// TestGoldenAdapterPrompts pins the full prompts of every adapter for one
// signature, one complete demo, one incomplete demo and the inputs.
func TestGoldenAdapterPrompts(t *testing.T) {
	sig := goldenSignature()
	demos := []Example{
		{"context": []any{"Paris is the capital of France."}, "question": "Capital of France?", "answer": "Paris", "confidence": 0.9},
		{"question": "Capital of Peru?", "answer": "Lima"},
	}
	in := Inputs{
		"context":  []string{"Rome is the capital of Italy.", "Rome has \"seven hills\"\nand a river."},
		"question": "Capital of Italy?",
	}
	for _, tc := range []struct {
		file    string
		adapter Adapter
	}{
		{"chat_adapter.golden", ChatAdapter{}},
		{"chat_adapter_dspy25.golden", ChatAdapter{Layout: LayoutDSPy25}},
		{"json_adapter.golden", JSONAdapter{}},
		{"xml_adapter.golden", XMLAdapter{}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			var req lm.Request
			if err := tc.adapter.Format(sig, demos, in, &req); err != nil {
				t.Fatalf("Format: %v", err)
			}
			var b strings.Builder
			for _, m := range req.Messages {
				fmt.Fprintf(&b, "=== %s ===\n%s\n", m.Role, m.Content)
			}
			if rf := req.ResponseFormat; rf != nil {
				js, err := json.MarshalIndent(rf, "", "  ")
				if err != nil {
					t.Fatal(err)
				}
				fmt.Fprintf(&b, "=== response_format ===\n%s\n", js)
			}
			checkGolden(t, tc.file, b.String())
		})
	}
}

func checkGolden(t *testing.T, file, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", file)
	if *updateGolden {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run Golden -update . to create it)", err)
	}
	if d := cmp.Diff(string(want), got); d != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", path, d)
	}
}

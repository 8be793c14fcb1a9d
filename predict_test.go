package dspy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/godspy/dspy/dspytest"
	"github.com/godspy/dspy/lm"
	"github.com/google/go-cmp/cmp"
)

func TestPredictCall(t *testing.T) {
	model := dspytest.NewScriptedLM(dspytest.ChatReply("answer", "Paris"))
	ctx := WithSettings(context.Background(), WithLM(model))
	pred, err := NewPredict("question -> answer").Call(ctx, Inputs{"question": "What is the capital of France?"})
	if err != nil {
		t.Fatal(err)
	}
	if got := pred.Get("answer"); got != "Paris" {
		t.Errorf("Predict answer = %v, want Paris", got)
	}
	reqs := model.Requests()
	if len(reqs) != 1 {
		t.Fatalf("LM got %d requests, want 1", len(reqs))
	}
	last := reqs[0].Messages[len(reqs[0].Messages)-1].Content
	if !strings.Contains(last, "What is the capital of France?") {
		t.Errorf("user message %q does not contain the question", last)
	}
	if pred.Usage.TotalTokens == 0 {
		t.Error("Prediction.Usage is zero, want the LM's usage")
	}
}

func TestPredictTypedOutputs(t *testing.T) {
	model := dspytest.NewScriptedLM(dspytest.ChatReply("count", "3", "ok", "true", "tags", `["a", "b"]`))
	ctx := WithSettings(context.Background(), WithLM(model))
	pred, err := NewPredict("text -> count: int, ok: bool, tags: list[str]").Call(ctx, Inputs{"text": "x"})
	if err != nil {
		t.Fatal(err)
	}
	n, err := pred.Int("count")
	if err != nil || n != 3 {
		t.Errorf("Int(count) = %v, %v; want 3", n, err)
	}
	var out struct {
		Count int      `json:"count"`
		OK    bool     `json:"ok"`
		Tags  []string `json:"tags"`
	}
	if err := pred.Decode(&out); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"a", "b"}, out.Tags); d != "" || !out.OK || out.Count != 3 {
		t.Errorf("Decode = %+v (tags diff %s)", out, d)
	}
}

func TestPredictErrors(t *testing.T) {
	reply := dspytest.ChatReply("answer", "x")
	tests := []struct {
		name    string
		lm      lm.LM
		in      Inputs
		wantErr string
		check   func(t *testing.T, err error)
	}{
		{
			name: "missing input", lm: dspytest.Repeat(reply), in: Inputs{},
			wantErr: `dspy: missing input field "question" for signature "question -> answer"`,
			check: func(t *testing.T, err error) {
				var ie *InputError
				if !errors.As(err, &ie) || ie.Field != "question" || !ie.Missing {
					t.Errorf("error %v is not a missing-field *InputError", err)
				}
			},
		},
		{
			name: "unknown input", lm: dspytest.Repeat(reply), in: Inputs{"question": "q", "qestion": "typo"},
			wantErr: `dspy: unknown input field "qestion" for signature "question -> answer" (inputs are: question)`,
		},
		{
			name: "no LM", lm: nil, in: Inputs{"question": "q"},
			wantErr: ErrNoLM.Error(),
			check: func(t *testing.T, err error) {
				if !errors.Is(err, ErrNoLM) {
					t.Errorf("errors.Is(err, ErrNoLM) = false for %v", err)
				}
			},
		},
		{
			name: "unparsable reply", lm: dspytest.Repeat("I don't know the format, sorry."), in: Inputs{"question": "q"},
			check: func(t *testing.T, err error) {
				var pe *ParseError
				if !errors.As(err, &pe) {
					t.Fatalf("error %v is not a *ParseError", err)
				}
				if pe.Raw != "I don't know the format, sorry." {
					t.Errorf("ParseError.Raw = %q, want the LM text", pe.Raw)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			if tt.lm != nil {
				ctx = WithSettings(ctx, WithLM(tt.lm))
			}
			_, err := NewPredict("question -> answer").Call(ctx, tt.in)
			if err == nil {
				t.Fatal("Call succeeded, want an error")
			}
			if tt.wantErr != "" && err.Error() != tt.wantErr {
				t.Errorf("error = %q\nwant    %q", err, tt.wantErr)
			}
			if tt.check != nil {
				tt.check(t, err)
			}
		})
	}
}

func TestPredictOwnLMWins(t *testing.T) {
	global := dspytest.Repeat(dspytest.ChatReply("answer", "global"))
	own := dspytest.Repeat(dspytest.ChatReply("answer", "own"))
	ctx := WithSettings(context.Background(), WithLM(global))
	pred, err := NewPredict("question -> answer", WithLM(own)).Call(ctx, Inputs{"question": "q"})
	if err != nil {
		t.Fatal(err)
	}
	if got := pred.Get("answer"); got != "own" {
		t.Errorf("answer = %v, want own (the module's LM wins)", got)
	}
}

func TestConfigureAndScopedSettings(t *testing.T) {
	old := defaults.Load() // keeps the default history for the tests after this one
	t.Cleanup(func() { defaults.Store(old) })
	Configure(WithLM(dspytest.Repeat(dspytest.ChatReply("answer", "default"))))
	p := NewPredict("question -> answer")
	in := Inputs{"question": "q"}

	pred, err := p.Call(context.Background(), in)
	if err != nil || pred.Get("answer") != "default" {
		t.Fatalf("with Configure: %v, %v", pred.Get("answer"), err)
	}
	scoped := WithSettings(context.Background(), WithLM(dspytest.Repeat(dspytest.ChatReply("answer", "scoped"))))
	// The scoped setting follows the call into another goroutine.
	pred, err = p.ACall(scoped, in).Await(scoped)
	if err != nil || pred.Get("answer") != "scoped" {
		t.Fatalf("with WithSettings: %v, %v", pred.Get("answer"), err)
	}

	// Configure may run while calls do (go test -race checks this).
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i%2 == 0 {
				Configure(WithLM(dspytest.Repeat(dspytest.ChatReply("answer", "default"))))
				return
			}
			if _, err := p.Call(context.Background(), in); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
}

func TestChatFallsBackToJSON(t *testing.T) {
	model := dspytest.NewScriptedLM("no markers here", `{"answer": "42"}`)
	ctx := WithSettings(context.Background(), WithLM(model))
	pred, err := NewPredict("question -> answer").Call(ctx, Inputs{"question": "q"})
	if err != nil {
		t.Fatal(err)
	}
	if pred.Get("answer") != "42" {
		t.Errorf("answer = %v, want 42 from the JSON fallback", pred.Get("answer"))
	}
	reqs := model.Requests()
	if len(reqs) != 2 || reqs[1].ResponseFormat == nil {
		t.Errorf("want a second request with a response format, got %d requests", len(reqs))
	}
}

func TestChainOfThought(t *testing.T) {
	model := dspytest.NewScriptedLM(dspytest.ChatReply("reasoning", "Tides follow the moon.", "answer", "The moon's gravity"))
	ctx := WithSettings(context.Background(), WithLM(model))
	cot := NewChainOfThought("question -> answer")
	pred, err := cot.Call(ctx, Inputs{"question": "What causes tides?"})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"reasoning", "answer"}, pred.Names()); d != "" {
		t.Errorf("Names (-want +got):\n%s", d)
	}
	if pred.Get("reasoning") != "Tides follow the moon." || pred.Get("answer") != "The moon's gravity" {
		t.Errorf("prediction = %v", pred.Fields())
	}
}

func TestNCompletions(t *testing.T) {
	model := dspytest.Repeat(dspytest.ChatReply("answer", "a"))
	ctx := WithSettings(context.Background(), WithLM(model))
	pred, err := NewPredict("question -> answer", WithN(3), WithTemperature(0.7), WithMaxTokens(50)).Call(ctx, Inputs{"question": "q"})
	if err != nil {
		t.Fatal(err)
	}
	if len(pred.Completions) != 3 {
		t.Errorf("len(Completions) = %d, want 3", len(pred.Completions))
	}
	req := model.Requests()[0]
	if req.N != 3 || req.MaxTokens != 50 || req.Temperature == nil || *req.Temperature != 0.7 {
		t.Errorf("request options = n %d, max %d, temp %v", req.N, req.MaxTokens, req.Temperature)
	}
}

// Wrong-typed inputs are an *InputError from Call, before any LM call.
func TestCheckInputTypes(t *testing.T) {
	sig := MustSignature("q, n: int, x: float, ok: bool, tags: list[str], meta: dict[str, int], lit: Literal['a', 'b'], v: Any, h: History -> answer")
	good := func() Inputs {
		return Inputs{"q": "s", "n": 3, "x": 1.5, "ok": true, "tags": []string{"a"}, "meta": map[string]any{"k": 1}, "lit": "a", "v": nil, "h": History{}}
	}
	for _, tc := range []struct {
		field string
		value any
		want  string // "" when the value is accepted
	}{
		{"n", "12", ""},
		{"n", 4.0, ""},
		{"n", json.Number("5"), ""},
		{"x", "2.5", ""},
		{"x", 3, ""},
		{"ok", "true", ""},
		{"tags", [2]string{"a", "b"}, ""},
		{"meta", map[string]int{"k": 2}, ""},
		{"v", []any{1, "x"}, ""},
		{"n", "ten", `dspy: input field "n" must be int, got a string: "ten"`},
		{"n", 2.5, `dspy: input field "n" must be int, got a number: 2.5`},
		{"x", "NaN", `dspy: input field "x" must be float, got a string: "NaN"`},
		{"ok", "yes", `dspy: input field "ok" must be bool, got a string: "yes"`},
		{"q", 7, `dspy: input field "q" must be str, got a number: 7`},
		{"q", nil, `dspy: input field "q" must be str, got null`},
		{"tags", "a, b", `dspy: input field "tags" must be list[str], got a string: "a, b"`},
		{"tags", []byte("ab"), `dspy: input field "tags" must be list[str], got an array`},
		{"meta", map[string]any{"k": "one"}, `dspy: input field "meta" must be dict[str, int], got an object whose member "k" is a string: "one"`},
		{"meta", map[int]int{1: 1}, `dspy: input field "meta" must be dict[str, int], got an object`},
		{"lit", "c", `dspy: input field "lit" must be Literal['a', 'b'], got a string: "c" (not one of the allowed values)`},
		{"h", History{Messages: []map[string]any{{"q": "hi", "answer": "hello"}}}, ""},
		{"h", map[string]any{"messages": []any{map[string]any{"q": "hi"}}}, ""},
		{"h", nil, ""},
		{"h", []any{"hi"}, `dspy: input field "h" must be History, got an array (a History is {"messages": [{...}, ...]})`},
		{"h", map[string]any{"messages": []any{"hi"}}, `dspy: input field "h" must be History, got an object (a History is {"messages": [{...}, ...]})`},
	} {
		in := good()
		in[tc.field] = tc.value
		model := dspytest.Repeat(dspytest.ChatReply("answer", "x"))
		_, err := NewPredict(sig, WithLM(model)).Call(context.Background(), in)
		if tc.want == "" {
			if err != nil {
				t.Errorf("%s = %#v: %v, want accepted", tc.field, tc.value, err)
			}
			continue
		}
		var ie *InputError
		if !errors.As(err, &ie) || ie.Field != tc.field {
			t.Errorf("%s = %#v: error %v, want an *InputError for %s", tc.field, tc.value, err, tc.field)
			continue
		}
		if got, _, _ := strings.Cut(err.Error(), " (signature"); got != tc.want {
			t.Errorf("%s = %#v: error\n got %s\nwant %s", tc.field, tc.value, got, tc.want)
		}
		if n := len(model.Requests()); n != 0 {
			t.Errorf("%s = %#v: the LM got %d requests", tc.field, tc.value, n)
		}
	}
}

func TestPredictionStrings(t *testing.T) {
	p := NewPrediction([]string{"qs", "typed", "mixed", "n"}, map[string]any{
		"qs": []any{"a", "b"}, "typed": []string{"c"}, "mixed": []any{"a", 2.0}, "n": 3,
	})
	if got, err := p.Strings("qs"); err != nil || !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("Strings(qs) = %q, %v", got, err)
	}
	if got, err := p.Strings("typed"); err != nil || !slices.Equal(got, []string{"c"}) {
		t.Errorf("Strings(typed) = %q, %v", got, err)
	}
	for name, want := range map[string]string{
		"mixed":   `dspy: field "mixed": item 1 is a number: 2, not a string`,
		"n":       `dspy: field "n" is a number: 3, not a list of strings`,
		"missing": `dspy: no field "missing"`,
	} {
		if _, err := p.Strings(name); err == nil || err.Error() != want {
			t.Errorf("Strings(%s) error = %v, want %s", name, err, want)
		}
	}
}

// The JSON fallback formats the same inputs again: Forward keeps their
// values (on the stack for up to 8 inputs), not the caller's map.
func TestFallbackKeepsInputs(t *testing.T) {
	for _, n := range []int{1, 2, 8, 9, 12} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			names := make([]string, n)
			in := Inputs{}
			for i := range names {
				names[i] = fmt.Sprintf("in%d", i)
				in[names[i]] = fmt.Sprintf("value %d", i)
			}
			model := dspytest.NewScriptedLM("no markers here", `{"answer": "42"}`)
			ctx := WithSettings(context.Background(), WithLM(model))
			pred, err := NewPredict(strings.Join(names, ", ")+" -> answer").Call(ctx, in)
			if err != nil {
				t.Fatal(err)
			}
			if pred.Get("answer") != "42" {
				t.Fatalf("answer = %v, want 42 from the JSON fallback", pred.Get("answer"))
			}
			reqs := model.Requests()
			if len(reqs) != 2 {
				t.Fatalf("%d requests, want 2", len(reqs))
			}
			first, again := reqs[0].Messages[len(reqs[0].Messages)-1].Content, reqs[1].Messages[len(reqs[1].Messages)-1].Content
			for i, name := range names {
				want := fmt.Sprintf("[[ ## %s ## ]]\nvalue %d", name, i)
				if !strings.Contains(first, want) || !strings.Contains(again, want) {
					t.Errorf("input %s: first request has it %v, fallback %v; want both", name, strings.Contains(first, want), strings.Contains(again, want))
				}
			}
		})
	}
}

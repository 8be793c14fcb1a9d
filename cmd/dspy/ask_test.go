package main

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/godspy/dspy/dspytest"
)

// jsonLine is the part of an `ask --json` event the tests read.
type jsonLine struct {
	Event              string          `json:"event"`
	Demo               *bool           `json:"demo"`
	Message            string          `json:"message"`
	SignatureFieldName string          `json:"signature_field_name"`
	Chunk              *string         `json:"chunk"`
	IsLastChunk        *bool           `json:"is_last_chunk"`
	Prediction         map[string]any  `json:"prediction"`
	Usage              map[string]int  `json:"usage"`
	Error              string          `json:"error"`
	OK                 *bool           `json:"ok"`
	Raw                json.RawMessage `json:"-"`
}

// parseJSONLines checks that every line of out is one JSON object with an
// "event" and returns them.
func parseJSONLines(t *testing.T, out string) []jsonLine {
	t.Helper()
	if !strings.HasSuffix(out, "\n") {
		t.Fatalf("output does not end with a newline: %q", out)
	}
	var events []jsonLine
	for i, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if !json.Valid([]byte(line)) {
			t.Fatalf("line %d is not valid JSON: %q", i+1, line)
		}
		var obj map[string]any
		if err := json.Unmarshal([]byte(line), &obj); err != nil {
			t.Fatalf("line %d is not a JSON object: %q: %v", i+1, line, err)
		}
		var ev jsonLine
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		ev.Raw = json.RawMessage(line)
		events = append(events, ev)
	}
	return events
}

// checkOrder asserts the event grammar of a successful run:
// lm status+ (status|chunk)* prediction done.
func checkOrder(t *testing.T, events []jsonLine) {
	t.Helper()
	if len(events) < 4 {
		t.Fatalf("got %d events, want at least lm, status, prediction, done", len(events))
	}
	if events[0].Event != "lm" {
		t.Errorf("first event = %s, want lm", events[0].Raw)
	}
	if last := events[len(events)-1]; last.Event != "done" || last.OK == nil || !*last.OK {
		t.Errorf("last event = %s, want done with ok true", last.Raw)
	}
	if pen := events[len(events)-2]; pen.Event != "prediction" {
		t.Errorf("event before done = %s, want prediction", pen.Raw)
	}
	sawStatus, sawChunk := false, false
	for _, ev := range events[1 : len(events)-2] {
		switch ev.Event {
		case "status":
			sawStatus = true
			if ev.Message == "" {
				t.Errorf("status event without message: %s", ev.Raw)
			}
		case "chunk":
			if !sawStatus && !sawChunk {
				t.Errorf("first chunk %s came before any status", ev.Raw)
			}
			sawChunk = true
			if ev.Chunk == nil || ev.IsLastChunk == nil || ev.SignatureFieldName == "" {
				t.Errorf("chunk event lacks chunk, is_last_chunk or signature_field_name: %s", ev.Raw)
			}
		default:
			t.Errorf("unexpected event between lm and prediction: %s", ev.Raw)
		}
	}
	if !sawChunk {
		t.Error("no chunk events")
	}
}

// streamed concatenates the chunks of one field.
func streamed(events []jsonLine, field string) string {
	var b strings.Builder
	for _, ev := range events {
		if ev.Event == "chunk" && ev.SignatureFieldName == field {
			b.WriteString(*ev.Chunk)
		}
	}
	return b.String()
}

func TestAskJSONLines(t *testing.T) {
	code, out, errOut := runCmd(t, noEnv, "ask", "--json", "--demo-delay", "0", "What causes ocean tides?")
	if code != exitOK {
		t.Fatalf("exit code %d, stderr %q", code, errOut)
	}
	events := parseJSONLines(t, out)
	checkOrder(t, events)
	if d := events[0].Demo; d == nil || !*d || !strings.Contains(events[0].Message, "OPENAI_API_KEY") {
		t.Errorf("lm event = %s, want demo true and how to use a real LM", events[0].Raw)
	}
	pred := events[len(events)-2]
	for _, field := range []string{"reasoning", "answer"} {
		got, _ := pred.Prediction[field].(string)
		if got == "" || streamed(events, field) != got {
			t.Errorf("field %s: chunks %q, prediction %q; want equal and not empty", field, streamed(events, field), got)
		}
	}
	if !strings.Contains(pred.Prediction["answer"].(string), "Moon") {
		t.Errorf("answer %q does not read like an answer about tides", pred.Prediction["answer"])
	}
	if pred.Usage["total_tokens"] <= 0 {
		t.Errorf("prediction usage = %v, want tokens", pred.Usage)
	}
}

// Every module and adapter streams valid JSON lines with the same grammar.
func TestAskJSONModulesAndAdapters(t *testing.T) {
	for _, tc := range []struct{ module, adapter, question string }{
		{"predict", "chat", "Why is the sky blue?"},
		{"cot", "json", "What is (2 + 3) * 4?"},
		{"cot", "xml", "What is the capital of France?"},
		{"react", "chat", "What is 12 * 12 - 4?"},
		{"react", "json", "What day is it today?"},
		{"react", "xml", "Why is the sky blue?"},
	} {
		t.Run(tc.module+"/"+tc.adapter, func(t *testing.T) {
			code, out, errOut := runCmd(t, noEnv, "ask", "--json", "--demo-delay", "0",
				"--module", tc.module, "--adapter", tc.adapter, tc.question)
			if code != exitOK {
				t.Fatalf("exit code %d, stderr %q", code, errOut)
			}
			events := parseJSONLines(t, out)
			checkOrder(t, events)
			answer, _ := events[len(events)-2].Prediction["answer"].(string)
			if answer == "" {
				t.Errorf("no answer in %s", events[len(events)-2].Raw)
			}
		})
	}
}

func TestAskReActUsesCalculator(t *testing.T) {
	code, out, errOut := runCmd(t, noEnv, "ask", "--json", "--demo-delay", "0", "--module", "react", "What is (17 + 25) * 3?")
	if code != exitOK {
		t.Fatalf("exit code %d, stderr %q", code, errOut)
	}
	events := parseJSONLines(t, out)
	var statuses []string
	for _, ev := range events {
		if ev.Event == "status" {
			statuses = append(statuses, ev.Message)
		}
	}
	joined := strings.Join(statuses, "\n")
	if !strings.Contains(joined, `Calling tool calculator with {"expression":"(17 + 25) * 3"}`) || !strings.Contains(joined, "returned 126") {
		t.Errorf("statuses do not show the calculator at work:\n%s", joined)
	}
	if a := events[len(events)-2].Prediction["answer"]; !strings.Contains(a.(string), "126") {
		t.Errorf("answer = %q, want 126 in it", a)
	}
}

func TestAskTextDemoBanner(t *testing.T) {
	code, out, errOut := runCmd(t, noEnv, "ask", "--demo-delay", "0", "What causes ocean tides?")
	if code != exitOK {
		t.Fatalf("exit code %d, stderr %q", code, errOut)
	}
	banner := strings.Join(strings.SplitN(out, "\n", 3)[:2], "\n")
	for _, want := range []string{"demo LM", "OPENAI_API_KEY", "--lm ollama_chat/llama3.2"} {
		if !strings.Contains(banner, want) {
			t.Errorf("the banner %q does not mention %q", banner, want)
		}
	}
	for _, want := range []string{"\n· Thinking step by step...\n", "\nreasoning:\n", "\nanswer:\nOcean tides", "\nusage: ", "\ntime: "} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "\x1b[") {
		t.Errorf("output to a pipe has ANSI escapes:\n%q", out)
	}
	if strings.Index(out, "· Asking the demo LM...") > strings.Index(out, "answer:") {
		t.Error("the status line comes after the answer")
	}
	// The answer streams once; the end adds only usage and time.
	if n := strings.Count(out, "Ocean tides are caused"); n != 1 {
		t.Errorf("the answer appears %d times, want once:\n%s", n, out)
	}
	if n := strings.Count(out, "Tides are about gravity"); n != 1 {
		t.Errorf("the reasoning appears %d times, want once", n)
	}
	for i, line := range strings.SplitN(out, "\n", 3)[:2] {
		if len(line) > 80 {
			t.Errorf("banner line %d has %d columns, want at most 80: %q", i+1, len(line), line)
		}
	}
}

func TestTextRendererColor(t *testing.T) {
	var b strings.Builder
	r := newTextRenderer(&b, true)
	r.status("working")
	if got, want := b.String(), "\x1b[2m· working\x1b[0m\n"; got != want {
		t.Errorf("dimmed status = %q, want %q", got, want)
	}
	if useColor(&b, noEnv) {
		t.Error("useColor(strings.Builder) = true, want false")
	}
}

func TestChooseLM(t *testing.T) {
	t.Setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")
	env := func(vars map[string]string) func(string) string {
		return func(k string) string { return vars[k] }
	}
	for _, tc := range []struct {
		name, lm  string
		vars      map[string]string
		wantLabel string
		wantDemo  bool
	}{
		{"nothing set", "", nil, "the demo LM", true},
		{"OPENAI_API_KEY", "", map[string]string{"OPENAI_API_KEY": "sk-test"}, "openai/gpt-4o-mini", false},
		{"DSPY_LM wins over a key", "", map[string]string{"OPENAI_API_KEY": "sk-test", "DSPY_LM": "ollama_chat/llama3.2"}, "ollama_chat/llama3.2", false},
		{"--lm wins", "ollama_chat/qwen3", map[string]string{"DSPY_LM": "ollama_chat/llama3.2"}, "ollama_chat/qwen3", false},
		{"--lm demo forces the demo", "demo", map[string]string{"OPENAI_API_KEY": "sk-test"}, "the demo LM", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := chooseLM(tc.lm, "", env(tc.vars))
			if err != nil {
				t.Fatal(err)
			}
			if c.label != tc.wantLabel || c.demo != tc.wantDemo {
				t.Errorf("chooseLM = %q (demo %v), want %q (demo %v)", c.label, c.demo, tc.wantLabel, tc.wantDemo)
			}
			if c.demo != (c.model == nil) {
				t.Errorf("demo %v but model %v", c.demo, c.model)
			}
		})
	}
}

func TestFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown module", []string{"ask", "--module", "agent", "q"}, `unknown --module "agent" (allowed: predict, cot, react, or DSPy's Predict, ChainOfThought, ReAct)`},
		{"unknown adapter", []string{"ask", "--adapter", "yaml", "q"}, `unknown --adapter "yaml" (allowed: chat, json, xml)`},
		{"unknown tool", []string{"ask", "--module", "react", "--tools", "calculator,web", "q"}, `unknown tool "web" in --tools (allowed: calculator, clock)`},
		{"bad signature", []string{"ask", "--signature", "question answer", "q"}, `--signature "question answer"`},
		{"no question", []string{"ask", "--json"}, "want one question argument, got 0"},
		{"two questions", []string{"ask", "a", "b"}, "want one question argument, got 2"},
		{"base url without lm", []string{"ask", "--base-url", "http://127.0.0.1:1/v1", "q"}, "--base-url needs --lm"},
		{"unknown provider", []string{"ask", "--lm", "nope/model", "q"}, `unknown LM provider "nope"`},
		{"missing input", []string{"ask", "--signature", "context, question -> answer", "q"}, "no value for input context"},
		{"unknown input", []string{"ask", "--input", "topic=x", "q"}, `has no input "topic"`},
		{"unknown flag", []string{"ask", "--colour", "q"}, "flag provided but not defined: -colour"},
		{"serve argument", []string{"serve", "extra"}, `unexpected argument "extra"`},
		{"unknown module for serve", []string{"serve", "--module", "x"}, `unknown --module "x" (allowed: predict, cot, react, or DSPy's Predict, ChainOfThought, ReAct)`},
		{"bad signature, one prefix", []string{"ask", "--signature", "question answer", "q"}, `dspy ask: --signature "question answer": missing "->" between inputs and outputs (at byte 15)` + "\n"},
		{"blank question", []string{"ask", "   "}, "dspy ask: the question is empty\n"},
		{"tools with another module", []string{"ask", "--module", "cot", "--tools", "clock", "q"}, "dspy ask: --tools adds tools to --module react, not --module cot\n"},
		{"unknown command", []string{"chat"}, `unknown command "chat" (commands: ask, serve, mcp, tools)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCmd(t, noEnv, tc.args...)
			if code != exitUsage {
				t.Errorf("exit code %d, want %d", code, exitUsage)
			}
			if !strings.Contains(errOut, tc.want) {
				t.Errorf("stderr %q does not contain %q", errOut, tc.want)
			}
			if out != "" {
				t.Errorf("stdout %q, want nothing", out)
			}
		})
	}
}

func TestFlagsAfterQuestion(t *testing.T) {
	code, out, errOut := runCmd(t, noEnv, "ask", "What is 6 * 7?", "--json", "--demo-delay", "0", "--module", "predict")
	if code != exitOK {
		t.Fatalf("exit code %d, stderr %q", code, errOut)
	}
	events := parseJSONLines(t, out)
	if a, _ := events[len(events)-2].Prediction["answer"].(string); a != "6 * 7 = 42" {
		t.Errorf("answer = %q, want %q", a, "6 * 7 = 42")
	}
}

func TestAskInputs(t *testing.T) {
	code, out, errOut := runCmd(t, noEnv, "ask", "--json", "--demo-delay", "0", "--module", "predict",
		"--signature", "context, question -> answer, confidence: float, tags: list[str]",
		"--input", "context=Paris is in France.", "What is the capital of France?")
	if code != exitOK {
		t.Fatalf("exit code %d, stderr %q", code, errOut)
	}
	events := parseJSONLines(t, out)
	pred := events[len(events)-2].Prediction
	if pred["answer"] != "The capital of France is Paris." || pred["confidence"] != 0.85 {
		t.Errorf("prediction = %v", pred)
	}
	if tags, ok := pred["tags"].([]any); !ok || len(tags) == 0 {
		t.Errorf("tags = %#v, want a non-empty list", pred["tags"])
	}
}

// cancelOnWrite cancels a context when a write contains a marker.
type cancelOnWrite struct {
	strings.Builder
	marker string
	cancel func()
}

func (c *cancelOnWrite) Write(p []byte) (int, error) {
	if strings.Contains(string(p), c.marker) {
		c.cancel()
	}
	return c.Builder.Write(p)
}

// Cancelling mid-stream ends the run with an error event saying so, then
// done, and exit code 130.
func TestAskCancelJSON(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &cancelOnWrite{marker: `"event":"chunk"`, cancel: cancel}
	var errOut strings.Builder
	code := run(ctx, []string{"ask", "--json", "--demo-delay", "5ms", "Explain tides in detail"}, out, &errOut, noEnv)
	if code != exitCancelled {
		t.Fatalf("exit code %d, want %d; stderr %q", code, exitCancelled, errOut.String())
	}
	events := parseJSONLines(t, out.String())
	n := len(events)
	if events[n-2].Event != "error" || events[n-2].Error != "cancelled" || events[n-1].Event != "done" || *events[n-1].OK {
		t.Errorf("last events = %s %s, want error cancelled, done ok false", events[n-2].Raw, events[n-1].Raw)
	}
	if !strings.Contains(errOut.String(), "cancelled") {
		t.Errorf("stderr %q does not say cancelled", errOut.String())
	}
}

// With --lm and --base-url, ask streams from an OpenAI-compatible server
// over HTTP; the first line names the model, not the demo LM.
func TestAskRealServer(t *testing.T) {
	srv := dspytest.NewServer(dspytest.WithRequiredAPIKey("sk-test"), dspytest.WithChunkBytes(3))
	defer srv.Close()
	t.Setenv("OPENAI_API_KEY", "sk-test")
	code, out, errOut := runCmd(t, os.Getenv, "ask", "--json", "--lm", "openai/test-model", "--base-url", srv.URL(), "What is Go?")
	if code != exitOK {
		t.Fatalf("exit code %d, stderr %q", code, errOut)
	}
	events := parseJSONLines(t, out)
	checkOrder(t, events)
	if d := events[0].Demo; d == nil || *d || !strings.Contains(events[0].Message, "openai/test-model") {
		t.Errorf("lm event = %s, want the real model", events[0].Raw)
	}
	pred := events[len(events)-2].Prediction
	if pred["answer"] != streamed(events, "answer") || pred["answer"] == "" {
		t.Errorf("answer %q, streamed %q", pred["answer"], streamed(events, "answer"))
	}
	if strings.Contains(out, "sk-test") {
		t.Error("the API key appears in the output")
	}
}

// closedPort returns the address of a loopback port nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// What a newcomer meets when things go wrong, or right without a key:
// one line on stderr, with a hint, and the exit code.
func TestAskFailuresAndLocalServers(t *testing.T) {
	srv := dspytest.NewServer(dspytest.WithResponder(dspytest.FieldResponder))
	defer srv.Close()
	slow := dspytest.NewServer(dspytest.WithTimeToFirstToken(time.Minute))
	defer slow.Close()
	dead := "http://" + closedPort(t) + "/v1"
	for _, tc := range []struct {
		name       string
		args       []string
		code       int
		stderr     string // exactly, "" for none
		stdoutHas  string
		stdoutLack string
	}{
		{"local server, no key", []string{"ask", "--lm", "openai/local-model", "--base-url", srv.URL(), "--module", "predict", "Hi?"},
			exitOK, "", "Using openai/local-model (from --lm).", "Error"},
		{"connection refused", []string{"ask", "--lm", "openai/local-model", "--base-url", dead, "q"},
			exitFailed, "dspy ask: cannot reach the LM server at " + dead + ": is it running?\n", "", "refused"},
		{"ollama not running", []string{"ask", "--lm", "ollama_chat/llama3.2", "--base-url", dead, "q"},
			exitFailed, "dspy ask: cannot reach Ollama at " + dead + ": is it running? (ollama serve)\n", "", "refused"},
		{"timeout", []string{"ask", "--lm", "openai/slow", "--base-url", slow.URL(), "--timeout", "300ms", "q"},
			exitFailed, "dspy ask: timed out after 300ms (--timeout)\n", "", "deadline"},
		{"help", []string{"ask", "--help"}, exitOK, "", "", ""},
		{"DSPy's module names", []string{"ask", "--module", "ReAct", "--demo-delay", "0", "What is 6 * 7?"}, exitOK, "", "next_thought:", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCmd(t, noEnv, tc.args...)
			if code != tc.code {
				t.Errorf("exit code %d, want %d (stderr %q)", code, tc.code, errOut)
			}
			if tc.name == "help" {
				if !strings.Contains(errOut, "Examples:") || !strings.Contains(errOut, "-timeout") {
					t.Errorf("ask --help: %q lacks a description, examples and flags", errOut)
				}
				return
			}
			if errOut != tc.stderr {
				t.Errorf("stderr\n %q\nwant\n %q", errOut, tc.stderr)
			}
			if tc.stdoutHas != "" && !strings.Contains(out, tc.stdoutHas) {
				t.Errorf("stdout lacks %q:\n%s", tc.stdoutHas, out)
			}
			if tc.stdoutLack != "" && strings.Contains(out, tc.stdoutLack) {
				t.Errorf("stdout has %q:\n%s", tc.stdoutLack, out)
			}
		})
	}
}

func TestVersionAndHelpExitZero(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"version"}, {"--help"}, {"serve", "--help"}, {"tools", "--help"}} {
		code, out, errOut := runCmd(t, noEnv, args...)
		if code != exitOK {
			t.Errorf("dspy %v: exit code %d, want 0 (stderr %q)", args, code, errOut)
		}
		if args[0] == "version" || args[0] == "--version" {
			if !strings.HasPrefix(out, "dspy (godspy) ") || !strings.Contains(out, "go1.") {
				t.Errorf("dspy %v printed %q", args, out)
			}
		}
	}
}

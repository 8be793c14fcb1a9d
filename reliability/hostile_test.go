package reliability

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/godspy/dspy"
	"github.com/godspy/dspy/dspytest"
	"github.com/godspy/dspy/internal/calc"
	"github.com/godspy/dspy/lm"
	"github.com/godspy/dspy/streaming"
)

// hostileHandler serves Predict("question -> answer") on a scripted LM
// that echoes a fixed answer, with the default body limit (1 MiB).
func hostileHandler() http.Handler {
	model := dspytest.Repeat(dspytest.ChatReply("answer", "fine"))
	prog := streaming.MustStreamify(dspy.NewPredict("question -> answer", dspy.WithLM(model)),
		streaming.WithListeners(streaming.NewListener("answer")))
	return streaming.Handler(prog)
}

// TestHandlerHostileBodies posts hostile bodies to Handler: each gets a
// clear 4xx JSON error naming the problem, or, where the input is valid
// JSON, a normal stream; never a crash or a 5xx.
func TestHandlerHostileBodies(t *testing.T) {
	srv := newHandlerServer(t, hostileHandler())
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}

	deepArray := `{"question": ` + strings.Repeat("[", 100_000) + strings.Repeat("]", 100_000) + `}`
	deepObject := strings.Repeat(`{"question": `, 50_000) + `"q"` + strings.Repeat("}", 50_000)
	tests := []struct {
		name, tried string
		body        io.Reader
		chunked     bool // no Content-Length: the limit must hold while reading
		code        int
		msg         string // a substring of the error message
	}{
		{"over the limit", "body of 2 MiB (limit 1 MiB)",
			strings.NewReader(`{"question": "` + strings.Repeat("x", 2<<20) + `"}`), false, 413, "over the limit of 1048576 bytes"},
		{"over the limit, chunked", "chunked body of 2 MiB without Content-Length",
			io.MultiReader(strings.NewReader(`{"question": "`), strings.NewReader(strings.Repeat("x", 2<<20)), strings.NewReader(`"}`)), true, 413, "over the limit"},
		{"endless body", "endless chunked body (never ends)",
			io.MultiReader(strings.NewReader(`{"question": "`), endless{}), true, 413, "over the limit"},
		{"deep array", "100,000 nested `[` in a field value", strings.NewReader(deepArray), false, 400, "exceeded max depth"},
		{"deep object", "50,000 nested objects", strings.NewReader(deepObject), false, 400, "exceeded max depth"},
		{"top-level array", "100,000 `[` at the top level", strings.NewReader(strings.Repeat("[", 100_000)), false, 400, "not valid JSON (invalid character '[' exceeded max depth"},
		{"invalid UTF-8 outside strings", "invalid UTF-8 bytes outside a string", strings.NewReader("{\"question\": \xff\xfe}"), false, 400, "invalid character"},
		{"null", "`null`", strings.NewReader("null"), false, 400, "must be a JSON object"},
		{"wrong field", "unknown field `__proto__`", strings.NewReader(`{"question": "q", "__proto__": {"admin": true}}`), false, 400, `unknown input field "__proto__"`},
		{"truncated", "truncated JSON", strings.NewReader(`{"question": "q`), false, 400, "request body ends in the middle of its JSON"},
		{"huge number", "a number of 400 digits for a str field", strings.NewReader(`{"question": ` + strings.Repeat("9", 400) + `}`), false, 400, `input field "question" must be str, got a number: 999`},
		{"NUL bytes", "NUL bytes in the body", strings.NewReader("{\"question\"\x00: 1}"), false, 400, "invalid character"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := tt.body
			if !tt.chunked {
				b, _ := io.ReadAll(body)
				body = bytes.NewReader(b)
			}
			// Bounded: a handler that reads an endless body without a limit
			// fails here with a message instead of hanging the test.
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL, body)
			req.Header.Set("Content-Type", "application/json")
			resp, err := client.Do(req)
			if err != nil {
				t.Fatalf("POST %s: %v (no answer within 5 s: the body limit must hold while reading)", tt.name, err)
			}
			defer resp.Body.Close()
			var got struct{ Error string }
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatalf("%d %q: not a JSON error: %v", resp.StatusCode, b, err)
			}
			if resp.StatusCode != tt.code || !strings.Contains(got.Error, tt.msg) {
				t.Errorf("POST %s = %d %q, want %d and a message with %q", tt.name, resp.StatusCode, got.Error, tt.code, tt.msg)
			}
			if len(got.Error) > 300 {
				t.Errorf("error message of %d bytes: it must not echo the body", len(got.Error))
			}
			row(t, areaHostile, "Handler: "+tt.tried, fmt.Sprintf("%d `{\"error\": ...}` (%q)", tt.code, shorten(got.Error, 110)))
		})
	}

	// Valid JSON with hostile content runs normally. The content goes all
	// the way: the LM must get the decoded value (want) in its prompt and
	// answers with it, so the stream carries it back to the client.
	valid := []struct{ name, tried, body, want, result string }{
		{"invalid UTF-8 in a string", "invalid UTF-8 inside a field value", "{\"question\": \"caf\xe9 \xff\"}", "caf\uFFFD \uFFFD",
			"200, a complete stream of valid UTF-8 (bad bytes become U+FFFD)"},
		{"huge field value", "a 1,000,000-byte field value (under the limit)", `{"question": "` + strings.Repeat("y", 1_000_000) + `"}`, strings.Repeat("y", 1_000_000),
			"200, a complete stream"},
		{"control characters", "escaped NUL, ESC and U+2028 in a field value", `{"question": "a\u0000b\u001bc\u2028d"}`, "a\x00b\x1bc\u2028d",
			"200, a complete stream of valid UTF-8"},
	}
	for _, tt := range valid {
		t.Run(tt.name, func(t *testing.T) {
			echo := dspytest.NewScriptedLMFunc(func(req *lm.Request) (dspytest.Reply, error) {
				if !strings.Contains(req.Messages[len(req.Messages)-1].Content, tt.want) {
					return dspytest.Reply{Text: dspytest.ChatReply("answer", "the question did not reach the LM as sent")}, nil
				}
				return dspytest.Reply{Text: dspytest.ChatReply("answer", tt.want)}, nil
			})
			echo.ChunkSize = 64 << 10
			prog := streaming.MustStreamify(dspy.NewPredict("question -> answer", dspy.WithLM(echo)),
				streaming.WithListeners(streaming.NewListener("answer")))
			srv := newHandlerServer(t, streaming.Handler(prog))
			resp, err := client.Post(srv.URL, "application/json", strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 200 || !bytes.HasSuffix(b, []byte("data: [DONE]\n\n")) {
				t.Fatalf("POST = %d %q, want a complete stream", resp.StatusCode, shorten(string(b), 200))
			}
			if !utf8.Valid(b) {
				t.Errorf("SSE output is not valid UTF-8")
			}
			var got struct {
				Prediction struct{ Answer string } `json:"prediction"`
			}
			var seen bool
			readEvents(bufio.NewReader(bytes.NewReader(b)), func(e sseClientEvent) bool {
				if e.name == "prediction" {
					seen = json.Unmarshal([]byte(e.data), &got) == nil
				}
				return true
			})
			if !seen || got.Prediction.Answer != tt.want {
				t.Errorf("prediction answer %q (event seen %v), want the input as decoded: %q", shorten(got.Prediction.Answer, 80), seen, shorten(tt.want, 80))
			}
			row(t, areaHostile, "Handler: "+tt.tried, tt.result)
		})
	}
}

// endless is a body that never ends.
type endless struct{}

func (endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'z'
	}
	return len(p), nil
}

func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

type calcArgs struct {
	Expression string `json:"expression"`
}

// calcTool is the calculator of cmd/dspy: internal/calc, a parser, never eval.
func calcTool(calls *[]string, mu *sync.Mutex) *dspy.Tool {
	return dspy.NewTool("calculator", "Evaluate arithmetic.", func(_ context.Context, a calcArgs) (string, error) {
		mu.Lock()
		*calls = append(*calls, a.Expression)
		mu.Unlock()
		v, err := calc.Eval(a.Expression)
		if err != nil {
			return "", err
		}
		return calc.Format(v), nil
	})
}

// TestToolArgumentsNeverRunCode gives a calculator tool arguments an LM
// could write to escape it: code in several languages, shell, template
// syntax, path tricks, wrong types, extra arguments. None runs: each is
// data, a *calc.Error or a *dspy.ToolArgError, and the canary file a
// successful injection would create never appears.
func TestToolArgumentsNeverRunCode(t *testing.T) {
	dir := t.TempDir()
	canary := filepath.Join(dir, "pwned")
	var calls []string
	var mu sync.Mutex
	tool := calcTool(&calls, &mu)
	attacks := []map[string]any{
		{"expression": "__import__('os').system('touch " + canary + "')"},
		{"expression": "eval(\"open('" + canary + "','w')\")"},
		{"expression": "$(touch " + canary + ")"},
		{"expression": "`touch " + canary + "`"},
		{"expression": "1; touch " + canary},
		{"expression": "{{ 7*7 }}"},
		{"expression": "${7*7}"},
		{"expression": "require('child_process').execSync('touch " + canary + "')"},
		{"expression": strings.Repeat("(", 100_000) + "1" + strings.Repeat(")", 100_000)},
		{"expression": strings.Repeat("-", 10_000) + "1"},
		{"expression": "9^9^9^9"},
		{"expression": "1/0"},
		{"expression": map[string]any{"__class__": "os"}},
		{"expression": []any{"touch", canary}},
		{"expression": "1+1", "shell": "touch " + canary},
		{},
	}
	for _, args := range attacks {
		res, err := tool.Call(t.Context(), args)
		var ce *calc.Error
		var ae *dspy.ToolArgError
		if err == nil || !(errors.As(err, &ce) || errors.As(err, &ae)) {
			t.Errorf("Call(%.80v) = %v, %v; want a *calc.Error or *dspy.ToolArgError", args, res, err)
		}
	}
	if _, err := os.Stat(canary); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("canary file exists: a tool argument ran code")
	}
	// Only string expressions reached the function; the rest were refused
	// by the argument decoder before it ran.
	if len(calls) != 12 {
		t.Errorf("the tool function ran %d times, want 12 (the string expressions)", len(calls))
	}
	if res, err := tool.Call(t.Context(), map[string]any{"expression": "(3 + 4) * 2 ^ 3 / 4"}); err != nil || res != "14" {
		t.Errorf("a fair expression = %v, %v; want 14", res, err)
	}
	row(t, areaHostile, "tool arguments written to escape a calculator tool (Python/JS/shell/template code, 100,000 nested parentheses, wrong types, extra arguments)",
		"each a `*calc.Error` or `*dspy.ToolArgError`; wrong types and extra arguments refused before the function runs; canary file never created")
}

// TestReActHostileToolCalls: an agent whose LM names an unknown tool,
// sends code as arguments and arguments that are not an object. Each
// becomes an observation, the loop goes on, and no code runs.
func TestReActHostileToolCalls(t *testing.T) {
	dir := t.TempDir()
	canary := filepath.Join(dir, "pwned")
	var calls []string
	var mu sync.Mutex
	// JSON replies and the JSONAdapter: no fallback adapter asks the LM
	// again, so each reply below is one agent step.
	step := func(tool, args string) string {
		return `{"next_thought": "try", "next_tool_name": "` + tool + `", "next_tool_args": ` + args + `}`
	}
	model := dspytest.NewScriptedLM(
		step("os.system", `{"command": "touch `+canary+`"}`),
		step("calculator", `{"expression": "__import__('os').system('touch `+canary+`')"}`),
		step("calculator", `{"expression": "6*7"}`),
		// Arguments that are not a JSON object fail the parse: as in
		// DSPy, the loop ends there and the answer is extracted.
		step("calculator", `"rm -rf / --no-preserve-root"`),
		`{"reasoning": "done", "answer": "42"}`,
	)
	agent := dspy.NewReAct("question -> answer", []*dspy.Tool{calcTool(&calls, &mu)})
	ctx := dspy.WithSettings(t.Context(), dspy.WithLM(model), dspy.WithAdapter(dspy.JSONAdapter{}), dspy.WithLogger(slog.New(slog.DiscardHandler)))
	pred, err := agent.Call(ctx, dspy.Inputs{"question": "What is 6*7?"})
	if err != nil {
		t.Fatal(err)
	}
	if pred.Get("answer") != "42" {
		t.Errorf("answer = %v", pred.Get("answer"))
	}
	if _, err := os.Stat(canary); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("canary file exists: a tool call ran code")
	}
	traj := fmt.Sprint(pred.Trajectory)
	for _, want := range []string{"Execution error in os.system", "Execution error in calculator", "42"} {
		if !strings.Contains(traj, want) {
			t.Errorf("trajectory lacks %q:\n%s", want, traj)
		}
	}
	if len(pred.Trajectory) != 3 || model.Remaining() != 0 {
		t.Errorf("%d steps, %d replies left; want 3 steps and the loop ended at the unparsable reply", len(pred.Trajectory), model.Remaining())
	}
	row(t, areaHostile, "ReAct: the LM calls an unknown tool, sends code as tool arguments, then arguments that are not JSON",
		"unknown tool and bad arguments are \"Execution error in …\" observations and the loop goes on; unparsable arguments end the loop (as in DSPy) and the answer is extracted; canary file never created")
}

// Inputs of the wrong type are refused before any LM call, with a message
// a client can act on.
func TestHandlerWrongTypedInput(t *testing.T) {
	model := dspytest.Repeat(dspytest.ChatReply("answer", "fine"))
	prog := streaming.MustStreamify(dspy.NewPredict("question, n: int -> answer"), streaming.WithListeners(streaming.NewListener("answer")))
	h := streaming.Handler(prog)
	srv := serveHTTP(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(dspy.WithSettings(r.Context(), dspy.WithLM(model))))
	}))
	for _, tc := range []struct{ body, want string }{
		{`{"question": "q", "n": "not a number"}`, `input field "n" must be int, got a string: "not a number"`},
		{`{"question": ["a", "b"], "n": 1}`, `input field "question" must be str, got an array`},
		{`{"question": {"$gt": ""}, "n": 1}`, `input field "question" must be str, got an object`},
	} {
		resp, err := http.Post(srv.URL, "application/json", strings.NewReader(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		var got struct{ Error string }
		json.NewDecoder(resp.Body).Decode(&got)
		resp.Body.Close()
		if resp.StatusCode != 400 || got.Error != tc.want {
			t.Errorf("POST %s = %d %q, want 400 %q", tc.body, resp.StatusCode, got.Error, tc.want)
		}
		if strings.Contains(got.Error, "interface") || strings.Contains(got.Error, "map[") {
			t.Errorf("the message names a Go type: %q", got.Error)
		}
	}
	if n := len(model.Requests()); n != 0 {
		t.Errorf("the LM got %d requests", n)
	}
	row(t, areaHostile, "Handler: wrong-typed inputs for `question, n: int -> answer` (`\"n\": \"not a number\"`, an array or an object for a str)",
		"400 before any LM call, naming the field, the type wanted and what came (`input field \"n\" must be int, got a string: \"not a number\"`); no Go type names")
}

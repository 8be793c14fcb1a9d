package reliability

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/godspy/dspy"
	"github.com/google/go-cmp/cmp"
)

type nestedArg struct {
	Name  string   `json:"name"`
	Tags  []string `json:"tags,omitempty"`
	Score *float64 `json:"score"`
}

type fuzzArgs struct {
	Count    int               `json:"count"`
	Ratio    float64           `json:"ratio"`
	Text     string            `json:"text"`
	Flag     bool              `json:"flag,omitempty"`
	Items    []int             `json:"items,omitempty"`
	Inner    nestedArg         `json:"inner,omitempty"`
	Opt      *string           `json:"opt"`
	Labels   map[string]string `json:"labels,omitempty"`
	Small    int8              `json:"small,omitempty"`
	Unsigned uint              `json:"unsigned,omitempty"`
}

// FuzzToolCall gives Tool.Call arbitrary JSON arguments, as an LM writes
// them, for a struct tool with every kind of argument and for a map tool.
// It never panics; bad arguments are an error and the tool function does
// not run; when it runs, it gets exactly the decoded values (data, never
// code).
func FuzzToolCall(f *testing.F) {
	for _, s := range []string{
		`{"count": 1, "ratio": 0.5, "text": "hi"}`,
		`{"count": "3", "ratio": "2.5", "text": "x", "opt": null}`,
		`{"count": 1e400, "ratio": 1, "text": ""}`,
		`{"count": 1, "ratio": 1, "text": "", "inner": {"name": 5}}`,
		`{"count": 1, "ratio": 1, "text": "", "items": [1, "2", null]}`,
		`{"count": 1, "ratio": 1, "text": "", "small": 300, "unsigned": -1}`,
		`{"count": 1, "ratio": 1, "text": "", "labels": {"a": 1}}`,
		`{"Count": 1, "ratio": 1, "text": "", "extra": true}`,
		`{"count": null, "ratio": 1, "text": "x"}`,
		`{"__proto__": {}, "constructor": "x"}`,
		`{}`,
	} {
		f.Add([]byte(s))
	}
	var ran atomic.Int64
	typed := dspy.NewTool("typed", "every kind of argument", func(_ context.Context, a fuzzArgs) (fuzzArgs, error) {
		ran.Add(1)
		return a, nil
	})
	loose := dspy.NewTool("loose", "any object", func(_ context.Context, a map[string]any) (map[string]any, error) {
		return a, nil
	})
	f.Fuzz(func(t *testing.T, data []byte) {
		var args map[string]any
		if json.Unmarshal(data, &args) != nil {
			return
		}
		before := ran.Load()
		res, err := typed.Call(context.Background(), args)
		called := ran.Load() != before
		if err != nil {
			if called {
				t.Fatalf("the tool ran although its arguments were refused: %v", err)
			}
			var ae *dspy.ToolArgError
			if !errors.As(err, &ae) && !strings.HasPrefix(err.Error(), "dspy: tool typed: arguments:") {
				t.Fatalf("err = %v, want a *dspy.ToolArgError or an arguments error", err)
			}
			return
		}
		if !called {
			t.Fatalf("no error, but the tool did not run")
		}
		got, ok := res.(fuzzArgs)
		if !ok {
			t.Fatalf("result %T", res)
		}
		// Exactly the decoded values: where encoding/json itself decodes
		// the arguments the tool was given (no lax conversion needed), the
		// tool got the same. (From args, not data: args holds numbers as
		// float64, as an LM's arguments arrive.)
		var want fuzzArgs
		if b, err := json.Marshal(args); err == nil && json.Unmarshal(b, &want) == nil {
			if d := cmp.Diff(want, got); d != "" {
				t.Fatalf("the tool got other values than the arguments hold (-encoding/json +tool):\n%s", d)
			}
		}
		// A map tool gets the arguments as they came.
		if r, err := loose.Call(context.Background(), args); err != nil || len(r.(map[string]any)) != len(args) {
			t.Fatalf("map tool: %v, %v", r, err)
		}
	})
}

// FuzzHandlerBody posts arbitrary bodies to streaming.Handler. The answer
// is a 2xx stream, a 400 or a 413 with a JSON error, never a panic or a
// 5xx.
func FuzzHandlerBody(f *testing.F) {
	for _, s := range []string{
		`{"question": "q"}`, `{}`, `[]`, `null`, `{"question": 1}`, `{"question": {"a": [1, 2]}}`,
		`{"question": "q"} {}`, `{"question": "q", "x": 1}`, "{\"question\": \"\xff\"}", `{"question": 1e999}`,
		strings.Repeat("[", 20_000), `{"question": ` + strings.Repeat("[", 20_000),
	} {
		f.Add([]byte(s))
	}
	h := hostileHandler()
	f.Fuzz(func(t *testing.T, body []byte) {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("POST", "/", bytes.NewReader(body))
		h.ServeHTTP(rec, req)
		switch rec.Code {
		case http.StatusOK:
			if !bytes.HasSuffix(rec.Body.Bytes(), []byte("data: [DONE]\n\n")) {
				t.Fatalf("200 without [DONE]: %q", rec.Body.String())
			}
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
			var e struct{ Error string }
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error == "" {
				t.Fatalf("%d with body %q", rec.Code, rec.Body.String())
			}
		default:
			t.Fatalf("status %d: %q", rec.Code, rec.Body.String())
		}
	})
}

package streaming_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/godspy/dspy"
	"github.com/godspy/dspy/dspytest"
	"github.com/godspy/dspy/lm"
	"github.com/godspy/dspy/lm/openai"
	"github.com/godspy/dspy/streaming"
	"github.com/godspy/dspy/streaming/resume"
)

// docShapes reads docs/sse.md's payload blocks (```json sse-event=NAME)
// and its version.
func docShapes(t *testing.T) (version string, shapes map[string]any) {
	t.Helper()
	doc, err := os.ReadFile("../docs/sse.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`\*\*Version (\d+)\*\*`).FindSubmatch(doc)
	if m == nil {
		t.Fatal("docs/sse.md names no **Version N**")
	}
	shapes = map[string]any{}
	for _, b := range regexp.MustCompile("(?s)```json sse-event=(\\w+)\n(.*?)\n```").FindAllSubmatch(doc, -1) {
		var shape any
		if err := json.Unmarshal(b[2], &shape); err != nil {
			t.Fatalf("docs/sse.md: block %s: %v", b[1], err)
		}
		shapes[string(b[1])] = shape
	}
	if len(shapes) == 0 {
		t.Fatal("docs/sse.md has no payload blocks")
	}
	return string(m[1]), shapes
}

// matchShape checks v against a shape of docs/sse.md's notation; seen
// collects the keys present, by path, for the coverage check.
func matchShape(path string, shape, v any, seen map[string]bool) []string {
	switch s := shape.(type) {
	case string:
		ok := false
		switch s {
		case "string":
			_, ok = v.(string)
		case "boolean":
			_, ok = v.(bool)
		case "number":
			_, ok = v.(json.Number)
		case "integer":
			n, isNum := v.(json.Number)
			_, err := n.Int64()
			ok = isNum && err == nil
		case "any":
			ok = true
		default:
			return []string{path + ": the doc's type " + s + " is not of its notation"}
		}
		if !ok {
			return []string{fmt.Sprintf("%s: %v (%T) is not a %s", path, v, v, s)}
		}
		return nil
	case map[string]any:
		obj, ok := v.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: %v is not an object", path, v)}
		}
		var problems []string
		for k, sub := range s {
			if k == "*" {
				continue
			}
			name, optional := strings.CutSuffix(k, "?")
			val, present := obj[name]
			if !present {
				if !optional {
					problems = append(problems, path+"."+name+": missing")
				}
				continue
			}
			seen[path+"."+name] = true
			problems = append(problems, matchShape(path+"."+name, sub, val, seen)...)
		}
		for k := range obj {
			if _, ok := s[k]; ok {
				continue
			}
			if _, ok := s[k+"?"]; ok {
				continue
			}
			if _, ok := s["*"]; !ok {
				problems = append(problems, path+"."+k+": not in docs/sse.md")
			}
		}
		return problems
	}
	return []string{fmt.Sprintf("%s: the doc's shape %v is not of its notation", path, shape)}
}

// optionalKeys lists the keys a shape marks optional, by path.
func optionalKeys(path string, shape any, out *[]string) {
	s, ok := shape.(map[string]any)
	if !ok {
		return
	}
	for k, sub := range s {
		name, optional := strings.CutSuffix(k, "?")
		if optional {
			*out = append(*out, path+"."+name)
		}
		optionalKeys(path+"."+name, sub, out)
	}
}

// docStream posts body to h and returns the events as read off the wire.
func docStream(t *testing.T, h http.Handler, lmodel lm.LM, body string) []sseEvent {
	t.Helper()
	srv := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(dspy.WithSettings(r.Context(), dspy.WithLM(lmodel))))
	}))
	resp, err := http.Post(srv.URL, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	return readSSE(t, resp.Body)
}

// docResumable runs a resumable stream, stops it after a few chunks and
// returns it as a client reading it from the start gets it.
func docResumable(t *testing.T, quiet streaming.HandlerOption) []sseEvent {
	t.Helper()
	lmSrv := dspytest.NewServer(dspytest.WithAnswers(dspytest.Answer{Text: dspytest.ChatReply("answer", strings.Repeat("more ", 500))}),
		dspytest.WithChunkBytes(5), dspytest.WithChunkDelay(2*time.Millisecond))
	defer lmSrv.Close()
	model := openai.New("gpt-doc", openai.WithBaseURL(lmSrv.URL()), openai.WithAPIKey("sk-test"))
	prog := streaming.MustStreamify(dspy.NewPredict("question -> answer"), streaming.WithListeners(streaming.NewListener("answer")))
	runs := streaming.NewRuns(resume.NewMemory())
	defer runs.Shutdown(context.Background())
	h := withLMServer(streaming.Handler(prog, streaming.WithResume(runs), quiet), model)
	mux := http.NewServeMux()
	mux.Handle("/v1/stream", h)
	mux.Handle("/v1/stream/{id}", h)
	mux.Handle("POST /v1/stream/{id}/stop", h)
	srv := serve(t, mux)
	resp, err := http.Post(srv.URL+"/v1/stream", "application/json", strings.NewReader(`{"question": "Go on?"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	id := resp.Header.Get("X-Stream-Id")
	br := bufio.NewReader(resp.Body)
	for n := 0; n < 4; {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if line == "\n" {
			n++
		}
	}
	stop, err := http.Post(srv.URL+"/v1/stream/"+id+"/stop", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	stop.Body.Close()
	io.Copy(io.Discard, br)
	got, err := http.Get(srv.URL + "/v1/stream/" + id)
	if err != nil {
		t.Fatal(err)
	}
	defer got.Body.Close()
	return readSSE(t, got.Body)
}

// TestSSEDocumented runs programs that produce every event of docs/sse.md
// through Handler and checks the wire against the doc: each payload has
// its block's shape, every documented event and optional key occurs, no
// undocumented event or key does, and each stream ends as the doc says.
func TestSSEDocumented(t *testing.T) {
	version, shapes := docShapes(t)
	if version != streaming.SSEVersion {
		t.Errorf("docs/sse.md is version %s, streaming.SSEVersion %s", version, streaming.SSEVersion)
	}
	quiet := streaming.WithLogger(slog.New(slog.DiscardHandler))
	var streams [][]sseEvent

	// 1. A native-tools agent: deltas, two concurrent tool calls (one
	// failing), a custom event, the answer with HTML in it.
	add := dspy.NewTool("add", "Add.", func(ctx context.Context, a mathArgs) (int, error) {
		streaming.Emit(ctx, "progress", map[string]any{"summing": []int{a.A, a.B}})
		return a.A + a.B, nil
	})
	broken := dspy.NewTool("lookup", "Look up.", func(context.Context, struct {
		Word string `json:"word"`
	}) (string, error) {
		return "", errors.New("dictionary at 10.0.0.7 offline")
	})
	u := &lm.Usage{PromptTokens: 10, CompletionTokens: 2, TotalTokens: 12}
	srv := dspytest.NewServer(dspytest.WithChunkBytes(4), dspytest.WithAnswers(
		dspytest.Answer{Text: dspytest.ChatReply("next_thought", "Add, and look up."), Usage: u, ToolCalls: []lm.ToolCall{
			{ID: "call_1", Name: "add", Arguments: `{"a": 2, "b": 3}`}, {ID: "call_2", Name: "lookup", Arguments: `{"word": "sum"}`}}},
		dspytest.Answer{Text: dspytest.ChatReply("next_thought", "Done."), Usage: u, ToolCalls: []lm.ToolCall{{ID: "call_3", Name: "finish", Arguments: `{}`}}},
		dspytest.Answer{Text: dspytest.ChatReply("reasoning", "2+3.", "answer", "<b>5</b>"), Usage: u},
	))
	defer srv.Close()
	native := openai.New("gpt-doc", openai.WithBaseURL(srv.URL()), openai.WithAPIKey("sk-test"))
	agent := dspy.NewReAct("question -> answer", []*dspy.Tool{add, broken}, dspy.WithNativeTools())
	prog := streaming.MustStreamify(agent, streaming.WithTraceEvents(), streaming.WithListeners(
		streaming.NewListener("next_thought", streaming.WithAllowReuse()),
		streaming.NewListener("answer", streaming.WithPredictName("extract"))))
	first := docStream(t, streaming.Handler(prog, streaming.WithErrorDetail(true), quiet), native, `{"question": "2+3?"}`)
	streams = append(streams, first)
	var wire strings.Builder
	for _, e := range first {
		wire.WriteString(e.data + "\n")
	}
	if !strings.Contains(wire.String(), `"<b>5</b>"`) || strings.Contains(wire.String(), `\u003c`) {
		t.Errorf("the answer's HTML is escaped on the wire, or missing:\n%s", wire.String())
	}

	// 2. A text-protocol agent whose second LM call fails: lm_end, step_end
	// and error with detail.
	failing := dspytest.NewScriptedLM()
	failing.Push(
		dspytest.Reply{Text: dspytest.ChatReply("next_thought", "Add.", "next_tool_name", "add", "next_tool_args", `{"a": 1, "b": 1}`)},
		dspytest.Reply{Err: &lm.APIError{StatusCode: 500, Message: "upstream at 10.0.0.9 exploded"}},
	)
	textAgent := streaming.MustStreamify(dspy.NewReAct("question -> answer", []*dspy.Tool{add}), streaming.WithTraceEvents())
	streams = append(streams, docStream(t, streaming.Handler(textAgent, streaming.WithErrorDetail(true), quiet), failing, `{"question": "1+1?"}`))

	// 3. No listeners: raw chunks, with native reasoning.
	reasoner := dspytest.NewScriptedLM()
	reasoner.Push(dspytest.Reply{Reasoning: "Think.", Text: dspytest.ChatReply("answer", "Yes.")})
	raw := streaming.MustStreamify(dspy.NewPredict("question -> answer"))
	streams = append(streams, docStream(t, streaming.Handler(raw, quiet), reasoner, `{"question": "Ok?"}`))

	// 4. Resumable: the stream event, and a stop while the LM writes,
	// read back from the store (the stopped event).
	streams = append(streams, docResumable(t, quiet))

	seenEvents := map[string]bool{}
	seenKeys := map[string]bool{}
	for i, events := range streams {
		if len(events) < 2 {
			t.Fatalf("stream %d: %d events", i, len(events))
		}
		last := events[len(events)-1]
		if last.name != "" || last.data != "[DONE]" {
			t.Errorf("stream %d ends with %q %q, want data: [DONE]", i, last.name, last.data)
		}
		if end := events[len(events)-2].name; end != "prediction" && end != "error" && end != "stopped" {
			t.Errorf("stream %d: the event before [DONE] is %q, want prediction, error or stopped", i, end)
		}
		if last.id != "" {
			t.Errorf("stream %d: [DONE] has id %q, want none", i, last.id)
		}
		for j, e := range events[:len(events)-1] {
			if e.id != strconv.Itoa(j+1) {
				t.Errorf("stream %d event %d (%s) has id %q, want %d", i, j, e.name, e.id, j+1)
			}
			if e.name == "" {
				t.Errorf("stream %d event %d has no name: %q", i, j, e.data)
				continue
			}
			if e.name == "stream" && j != 0 {
				t.Errorf("stream %d: stream event at %d, want it first", i, j)
			}
			if (e.name == "prediction" || e.name == "error" || e.name == "stopped") && j != len(events)-2 {
				t.Errorf("stream %d: %s at %d is not the last event before [DONE]", i, e.name, j)
			}
			shape, ok := shapes[e.name]
			if !ok {
				t.Errorf("stream %d: event %q is not in docs/sse.md: %s", i, e.name, e.data)
				continue
			}
			seenEvents[e.name] = true
			dec := json.NewDecoder(strings.NewReader(e.data))
			dec.UseNumber()
			var v any
			if err := dec.Decode(&v); err != nil {
				t.Errorf("stream %d: %s: %v", i, e.name, err)
				continue
			}
			for _, p := range matchShape(e.name, shape, v, seenKeys) {
				t.Errorf("stream %d: %s\n  %s", i, p, e.data)
			}
		}
	}
	var missing []string
	for name, shape := range shapes {
		if !seenEvents[name] {
			missing = append(missing, "event "+name)
		}
		var opt []string
		optionalKeys(name, shape, &opt)
		for _, k := range opt {
			if !seenKeys[k] {
				missing = append(missing, "key "+k)
			}
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("documented but produced by no run: %s", strings.Join(missing, ", "))
	}
	if !slices.ContainsFunc(first, func(e sseEvent) bool {
		return e.name == "tool_call_delta" && strings.Contains(e.data, `"args_delta":""`)
	}) {
		t.Error("no first, empty tool_call_delta naming the tool")
	}
}

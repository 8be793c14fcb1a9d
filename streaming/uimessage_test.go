package streaming_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/godspy/dspy"
	"github.com/godspy/dspy/dspytest"
	"github.com/godspy/dspy/lm"
	"github.com/godspy/dspy/lm/openai"
	"github.com/godspy/dspy/streaming"
)

// The chat fixture: a ReAct agent "question, history: History -> answer"
// with the tools add and mul, whose LM answers from the prompt, so that a
// conversation of any length is deterministic. It adds 2 and 3, multiplies
// by 4, and answers; a later turn's answer quotes the earlier question it
// finds in the history.

type chatMsg struct{ role, content string }

// chatLM is the fixture's reply to a prompt: the react step's thought and
// tool call (by how many observations the trajectory has), or the
// extract's reasoning and answer.
func chatLM(msgs []chatMsg) (text string, calls []lm.ToolCall) {
	system, user := msgs[0].content, msgs[len(msgs)-1].content
	if strings.Contains(system, "`next_thought`") {
		switch strings.Count(user, "[[ ## observation_") {
		case 0:
			return "Add first.", []lm.ToolCall{{ID: "call_add", Name: "add", Arguments: `{"a": 2, "b": 3}`}}
		case 1:
			return "Now multiply.", []lm.ToolCall{{ID: "call_mul", Name: "mul", Arguments: `{"a": 5, "b": 4}`}}
		}
		return "Done.", []lm.ToolCall{{ID: "call_fin", Name: "finish", Arguments: `{}`}}
	}
	answer := "(2+3)*4 = <b>20</b>"
	// Earlier turns come as user/assistant pairs between the system
	// message and the current user message.
	if len(msgs) > 3 {
		q := msgs[1].content
		if _, after, ok := strings.Cut(q, "[[ ## question ## ]]\n"); ok {
			q, _, _ = strings.Cut(after, "\n")
		}
		answer = "Because 2+3 is 5 and 5*4 is 20; you asked: " + q + " (" + strconv.Itoa((len(msgs)-2)/2) + " earlier turn)"
	}
	return dspytest.ChatReply("reasoning", "The tools gave 20.", "answer", answer), nil
}

func chatTools() []*dspy.Tool { return mathTools() }

// chatProgram builds the fixture; native selects native tool calling
// (through lm/openai and dspytest.Server, whose tool-call fragments are
// the wire's), else the text protocol on a ScriptedLM.
func chatProgram(t *testing.T, native bool) (*streaming.Program, lm.LM) {
	t.Helper()
	var model lm.LM
	var opts []dspy.ReActOption
	if native {
		opts = append(opts, dspy.WithNativeTools())
		srv := dspytest.NewServer(dspytest.WithChunkBytes(5), dspytest.WithResponder(func(req *dspytest.ChatRequest) dspytest.Answer {
			var msgs []chatMsg
			for _, m := range req.Messages {
				msgs = append(msgs, chatMsg{m.Role, m.Content})
			}
			text, calls := chatLM(msgs)
			if calls != nil {
				text = dspytest.ChatReply("next_thought", text)
			}
			return dspytest.Answer{Text: text, ToolCalls: calls}
		}))
		t.Cleanup(srv.Close)
		model = openai.New("gpt-chat", openai.WithBaseURL(srv.URL()), openai.WithAPIKey("sk-test"))
	} else {
		scripted := dspytest.NewScriptedLMFunc(func(req *lm.Request) (dspytest.Reply, error) {
			var msgs []chatMsg
			for _, m := range req.Messages {
				msgs = append(msgs, chatMsg{string(m.Role), m.Content})
			}
			text, calls := chatLM(msgs)
			if calls != nil {
				text = dspytest.ChatReply("next_thought", text, "next_tool_name", calls[0].Name, "next_tool_args", calls[0].Arguments)
			}
			return dspytest.Reply{Text: text}, nil
		})
		scripted.ChunkSize = 5
		model = scripted
	}
	agent := dspy.NewReAct("question, history: History -> answer", chatTools(), opts...)
	prog := streaming.MustStreamify(agent, streaming.WithListeners(
		streaming.NewListener("next_thought", streaming.WithAllowReuse()),
		streaming.NewListener("reasoning", streaming.WithPredictName("extract")),
		streaming.NewListener("answer", streaming.WithPredictName("extract")),
	))
	return prog, model
}

// chatServer serves the fixture's UIMessageHandler at /native/api/chat and
// /text/api/chat, and at /fail/api/chat a program whose LM fails.
func chatServer(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	failing := dspytest.NewScriptedLMFunc(func(*lm.Request) (dspytest.Reply, error) {
		return dspytest.Reply{Err: &lm.APIError{StatusCode: 503, Message: "overloaded"}}, nil
	})
	fail := streaming.UIMessageHandler(streaming.MustStreamify(dspy.NewPredict("question -> answer")),
		streaming.WithLogger(slog.New(slog.DiscardHandler)))
	mux.Handle("/fail/api/chat", withLM(fail, failing))
	for _, native := range []bool{true, false} {
		prog, model := chatProgram(t, native)
		prefix := "/text"
		if native {
			prefix = "/native"
		}
		h := streaming.UIMessageHandler(prog)
		mux.Handle(prefix+"/api/chat", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h.ServeHTTP(w, r.WithContext(dspy.WithSettings(r.Context(), dspy.WithLM(model))))
		}))
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// useChatBody is the body useChat's DefaultChatTransport sends for a new
// user message.
func useChatBody(texts ...string) string {
	var msgs []map[string]any
	for i, text := range texts {
		role := "user"
		if i%2 == 1 {
			role = "assistant"
		}
		msgs = append(msgs, map[string]any{"id": "m" + strconv.Itoa(i), "role": role, "parts": []any{map[string]any{"type": "text", "text": text}}})
	}
	b, _ := json.Marshal(map[string]any{"id": "chat-1", "messages": msgs, "trigger": "submit-message"})
	return string(b)
}

// readChunks reads a UI message stream: each data line's JSON object, and
// whether [DONE] ended it.
func readChunks(t *testing.T, r io.Reader) (chunks []map[string]any, done bool) {
	t.Helper()
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			t.Fatalf("line %q is not a data line (the protocol has no event names, ids or comments)", line)
		}
		if done {
			t.Fatalf("data after [DONE]: %q", data)
		}
		if data == "[DONE]" {
			done = true
			continue
		}
		var c map[string]any
		if err := json.Unmarshal([]byte(data), &c); err != nil {
			t.Fatalf("chunk %q: %v", data, err)
		}
		chunks = append(chunks, c)
	}
	return chunks, done
}

type chunkSpec struct {
	Source string `json:"source"`
	Chunks map[string]struct {
		Required []string `json:"required"`
		Optional []string `json:"optional"`
	} `json:"chunks"`
	FinishReasons []string          `json:"finishReasons"`
	Headers       map[string]string `json:"headers"`
}

func loadChunkSpec(t *testing.T) chunkSpec {
	t.Helper()
	b, err := os.ReadFile("testdata/aisdk/ui-message-chunks.json")
	if err != nil {
		t.Fatal(err)
	}
	var s chunkSpec
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

// checkChunk reports keys the SDK's schema does not have for the chunk's
// type, and required keys that are missing.
func checkChunk(t *testing.T, spec chunkSpec, c map[string]any) {
	t.Helper()
	typ, _ := c["type"].(string)
	key := typ
	if strings.HasPrefix(typ, "data-") {
		key = "data-*"
	}
	s, ok := spec.Chunks[key]
	if !ok {
		t.Errorf("chunk type %q is not in the protocol (%s): %v", typ, spec.Source, c)
		return
	}
	for _, k := range s.Required {
		if _, ok := c[k]; !ok {
			t.Errorf("chunk %q lacks required key %q: %v", typ, k, c)
		}
	}
	for k := range c {
		if !slices.Contains(s.Required, k) && !slices.Contains(s.Optional, k) {
			t.Errorf("chunk %q has key %q, which the protocol does not: %v", typ, k, c)
		}
	}
	if typ == "finish" {
		if r, _ := c["finishReason"].(string); !slices.Contains(spec.FinishReasons, r) {
			t.Errorf("finishReason %q is not one of %v", r, spec.FinishReasons)
		}
	}
}

// summary turns chunks into short lines for an exact comparison: deltas of
// one part are joined, ids reduced to their kind.
func summary(chunks []map[string]any) []string {
	var out []string
	idRE := regexp.MustCompile(`^call_\d+$`)
	tid := func(c map[string]any) string {
		id, _ := c["toolCallId"].(string)
		if idRE.MatchString(id) {
			return "call_N"
		}
		return id
	}
	for _, c := range chunks {
		typ := c["type"].(string)
		var line string
		switch typ {
		case "text-delta", "reasoning-delta":
			if n := len(out); n > 0 && strings.HasPrefix(out[n-1], typ+" ") {
				out[n-1] += c["delta"].(string)
				continue
			}
			line = typ + " " + c["delta"].(string)
		case "tool-input-delta":
			if n := len(out); n > 0 && strings.HasPrefix(out[n-1], typ+" "+tid(c)+" ") {
				out[n-1] += c["inputTextDelta"].(string)
				continue
			}
			line = typ + " " + tid(c) + " " + c["inputTextDelta"].(string)
		case "tool-input-start":
			line = typ + " " + tid(c) + " " + c["toolName"].(string)
		case "tool-input-available":
			in, _ := json.Marshal(c["input"])
			line = typ + " " + tid(c) + " " + c["toolName"].(string) + " " + string(in)
		case "tool-output-available":
			o, _ := json.Marshal(c["output"])
			line = typ + " " + tid(c) + " " + string(o)
		case "data-status":
			line = typ + " " + c["data"].(map[string]any)["message"].(string)
		case "finish":
			pred := c["messageMetadata"].(map[string]any)["prediction"].(map[string]any)
			line = fmt.Sprintf("%s %s reasoning=%v answer=%v", typ, c["finishReason"], pred["reasoning"], pred["answer"])
		case "start":
			if !strings.HasPrefix(c["messageId"].(string), "msg-") {
				line = typ + " bad id " + c["messageId"].(string)
			} else {
				line = typ
			}
		default:
			line = typ
		}
		out = append(out, line)
	}
	return out
}

// TestUIMessageHandler: a useChat request to a ReAct agent gets the AI
// SDK's headers and chunks, every chunk of a type the protocol has with
// only the keys it has, in the order of the run; then [DONE].
func TestUIMessageHandler(t *testing.T) {
	spec := loadChunkSpec(t)
	srv := chatServer(t)
	for _, mode := range []string{"native", "text"} {
		t.Run(mode, func(t *testing.T) {
			resp, err := http.Post(srv.URL+"/"+mode+"/api/chat", "application/json", strings.NewReader(useChatBody("What is (2+3)*4?")))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b, _ := io.ReadAll(resp.Body)
				t.Fatalf("status %d: %s", resp.StatusCode, b)
			}
			for k, v := range spec.Headers {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("header %s: %q, want %q", k, got, v)
				}
			}
			chunks, done := readChunks(t, resp.Body)
			if !done {
				t.Error("the stream did not end with data: [DONE]")
			}
			for _, c := range chunks {
				checkChunk(t, spec, c)
			}
			addArgs, mulArgs := "", ""
			var deltas []string
			if mode == "native" {
				addArgs, mulArgs = ` {"a": 2, "b": 3}`, ` {"a": 5, "b": 4}`
				deltas = []string{"tool-input-delta call_add" + addArgs, "tool-input-delta call_mul" + mulArgs}
			}
			tool := func(native, text string) string {
				if mode == "native" {
					return native
				}
				return text
			}
			want := []string{
				"start",
				"start-step",
				"reasoning-start", "reasoning-delta Add first.", "reasoning-end",
				tool("tool-input-start call_add add", "tool-input-start call_N add"),
			}
			if mode == "native" {
				want = append(want, deltas[0])
			}
			want = append(want,
				tool("tool-input-available call_add add", "tool-input-available call_N add")+` {"a":2,"b":3}`,
				"data-status Calling tool add...",
				tool("tool-output-available call_add", "tool-output-available call_N")+" 5",
				"data-status Tool calling finished! Querying the LLM with tool calling results...",
				"finish-step",
				"start-step",
				"reasoning-start", "reasoning-delta Now multiply.", "reasoning-end",
				tool("tool-input-start call_mul mul", "tool-input-start call_N mul"),
			)
			if mode == "native" {
				want = append(want, deltas[1])
			}
			want = append(want,
				tool("tool-input-available call_mul mul", "tool-input-available call_N mul")+` {"a":5,"b":4}`,
				"data-status Calling tool mul...",
				tool("tool-output-available call_mul", "tool-output-available call_N")+" 20",
				"data-status Tool calling finished! Querying the LLM with tool calling results...",
				"finish-step",
				"start-step",
				"reasoning-start", "reasoning-delta Done.", "reasoning-end",
				"finish-step",
				"reasoning-start", "reasoning-delta The tools gave 20.", "reasoning-end",
				"text-start", "text-delta (2+3)*4 = <b>20</b>", "text-end",
				"finish stop reasoning=The tools gave 20. answer=(2+3)*4 = <b>20</b>",
			)
			if d := cmp.Diff(want, summary(chunks)); d != "" {
				t.Errorf("chunks (-want +got):\n%s", d)
			}
			// The native deltas are the wire's fragments (5 bytes).
			if mode == "native" {
				n := 0
				for _, c := range chunks {
					if c["type"] == "tool-input-delta" {
						n++
					}
				}
				if n < 6 {
					t.Errorf("%d tool-input-delta chunks, want the fragments of both calls (>= 6)", n)
				}
			}
			last := chunks[len(chunks)-1]
			usage := last["messageMetadata"].(map[string]any)["usage"].(map[string]any)
			if usage["totalTokens"].(float64) <= 0 || usage["inputTokens"].(float64) <= 0 {
				t.Errorf("finish usage %v: want the run's summed usage", usage)
			}
		})
	}
}

// The earlier turns of the conversation become the History input; body
// fields name other inputs; bad requests are 400s that say what is wrong.
func TestUIMessageHandlerRequests(t *testing.T) {
	srv := chatServer(t)
	post := func(path, body string) (int, []map[string]any, string) {
		t.Helper()
		resp, err := http.Post(srv.URL+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			var e struct{ Error string }
			if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
				t.Fatalf("status %d with a body that is not {\"error\": ...}: %v", resp.StatusCode, err)
			}
			return resp.StatusCode, nil, e.Error
		}
		chunks, _ := readChunks(t, resp.Body)
		return resp.StatusCode, chunks, ""
	}
	_, chunks, _ := post("/text/api/chat", useChatBody("What is (2+3)*4?", "(2+3)*4 = 20", "Why?"))
	var text string
	for _, c := range chunks {
		if c["type"] == "text-delta" {
			text += c["delta"].(string)
		}
	}
	if want := "Because 2+3 is 5 and 5*4 is 20; you asked: What is (2+3)*4? (1 earlier turn)"; text != want {
		t.Errorf("answer with history %q, want %q", text, want)
	}

	for _, tt := range []struct{ name, body, msg string }{
		{"not JSON", `{"messages": [`, "request body is not a JSON object"},
		{"no messages", `{"id": "x"}`, `request body has no "messages"`},
		{"messages not a list", `{"messages": {"role": "user"}}`, `"messages" is not a list of UI messages`},
		{"last is the assistant's", useChatBody("Hi", "Hello"), `the last of "messages" must be the user's`},
		{"no text", `{"messages": [{"id": "1", "role": "user", "parts": [{"type": "file", "url": "x"}]}]}`, "the user's message has no text"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, _, body := post("/text/api/chat", tt.body)
			if code != http.StatusBadRequest || !strings.Contains(body, tt.msg) {
				t.Errorf("got %d %s, want 400 with %q", code, body, tt.msg)
			}
		})
	}
}

type echoModule struct{}

func (echoModule) Forward(_ context.Context, in dspy.Inputs) (*dspy.Prediction, error) {
	return dspy.NewPrediction([]string{"answer"}, map[string]any{"answer": in["text"]}), nil
}

// A module without a Signature method needs WithInputFields; with it, the
// message goes to the declared input and the answer is sent whole.
func TestUIMessageHandlerCustomModule(t *testing.T) {
	prog := streaming.MustStreamify(echoModule{})
	for _, tt := range []struct {
		opts []streaming.HandlerOption
		code int
		want string
	}{
		{nil, http.StatusBadRequest, "the program declares no inputs for the user's message (serve it WithInputFields)"},
		{[]streaming.HandlerOption{streaming.WithInputFields("text")}, http.StatusOK, "Echo <this>"},
	} {
		srv := serve(t, streaming.UIMessageHandler(prog, tt.opts...))
		resp, err := http.Post(srv.URL, "application/json", strings.NewReader(useChatBody("Echo <this>")))
		if err != nil {
			t.Fatal(err)
		}
		var got string
		if resp.StatusCode == http.StatusOK {
			chunks, _ := readChunks(t, resp.Body)
			for _, c := range chunks {
				if c["type"] == "text-delta" {
					got += c["delta"].(string)
				}
			}
		} else {
			var e struct{ Error string }
			json.NewDecoder(resp.Body).Decode(&e)
			got = e.Error
		}
		resp.Body.Close()
		if resp.StatusCode != tt.code || got != tt.want {
			t.Errorf("status %d %q, want %d %q", resp.StatusCode, got, tt.code, tt.want)
		}
	}
}

// A failed run ends the message with an "error" chunk: the user-facing
// message, and with WithErrorDetail its cause.
func TestUIMessageHandlerError(t *testing.T) {
	model := dspytest.NewScriptedLM()
	prog := streaming.MustStreamify(dspy.NewPredict("question -> answer"), streaming.WithListeners(streaming.NewListener("answer")))
	for _, detail := range []bool{false, true} {
		model.Push(dspytest.Reply{Err: &lm.APIError{StatusCode: 500, Message: "upstream exploded"}})
		h := streaming.UIMessageHandler(prog, streaming.WithErrorDetail(detail), streaming.WithLogger(slog.New(slog.DiscardHandler)))
		srv := serve(t, withLM(h, model))
		resp, err := http.Post(srv.URL, "application/json", strings.NewReader(useChatBody("Hi")))
		if err != nil {
			t.Fatal(err)
		}
		chunks, done := readChunks(t, resp.Body)
		resp.Body.Close()
		if !done || len(chunks) != 2 || chunks[0]["type"] != "start" || chunks[1]["type"] != "error" {
			t.Fatalf("chunks %v (done %v), want start, error, [DONE]", chunks, done)
		}
		text := chunks[1]["errorText"].(string)
		if !strings.HasPrefix(text, "the language model provider failed; try again") || strings.Contains(text, "upstream exploded") != detail {
			t.Errorf("errorText %q with detail %v", text, detail)
		}
	}
}

package reliability

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/godspy/dspy"
	"github.com/godspy/dspy/dspytest"
	"github.com/godspy/dspy/lm"
	"github.com/godspy/dspy/streaming"
	"github.com/google/go-cmp/cmp"
)

// buggy is a custom module with a nil-map bug: it panics after its
// predictor answered.
type buggy struct{ P *dspy.Predict }

func (b *buggy) Forward(ctx context.Context, in dspy.Inputs) (*dspy.Prediction, error) {
	if _, err := b.P.Call(ctx, in); err != nil {
		return nil, err
	}
	var counts map[string]int
	counts["answers"]++ //lint:ignore SA5000 the bug on purpose
	return nil, nil
}

// Panics in user code on goroutines godspy started: each is a
// *dspy.PanicError where the result would have been, and the process (this
// test binary) goes on.
func TestPanicsBecomeErrors(t *testing.T) {
	reply := dspytest.ChatReply("answer", "fine")
	ctxWith := func(m lm.LM) context.Context { return dspy.WithSettings(t.Context(), dspy.WithLM(m)) }
	asPanic := func(t *testing.T, err error, want string) {
		t.Helper()
		var pe *dspy.PanicError
		if !errors.As(err, &pe) || !strings.Contains(pe.Error(), want) || len(pe.Stack) == 0 {
			t.Fatalf("error = %v, want a *dspy.PanicError with %q and a stack", err, want)
		}
	}

	t.Run("stream", func(t *testing.T) {
		prog := streaming.MustStreamify(&buggy{P: dspy.NewPredict("question -> answer")},
			streaming.WithListeners(streaming.NewListener("answer")))
		// An answer in many chunks; the module panics after its predictor
		// returned, so every chunk was produced before the panic and must
		// reach the consumer ahead of the error. On the first chunk the
		// consumer waits (synctest) until the run goroutine has panicked
		// and ended, so the rest are still buffered when the outcome
		// arrives: a stream that gave up its buffered events for the
		// error would lose them.
		long := strings.TrimSpace(strings.Repeat("every chunk counts ", 10))
		synctest.Test(t, func(t *testing.T) {
			model := dspytest.Repeat(dspytest.ChatReply("answer", long))
			model.ChunkSize = 8 // fewer events than the run's buffer holds
			var got strings.Builder
			var last error
			first, lastChunk, afterErr := true, false, false
			for ev, err := range prog.Stream(dspy.WithSettings(t.Context(), dspy.WithLM(model)), dspy.Inputs{"question": "q"}) {
				if last != nil {
					afterErr = true
				}
				if err != nil {
					last = err
				} else if sr, ok := ev.(*streaming.StreamResponse); ok {
					if first {
						synctest.Wait()
						first = false
					}
					got.WriteString(sr.Chunk)
					lastChunk = sr.IsLastChunk
				}
			}
			asPanic(t, last, "assignment to entry in nil map")
			if afterErr {
				t.Error("elements after the *dspy.PanicError: it must be the stream's last")
			}
			if diff := cmp.Diff(long, got.String()); diff != "" || !lastChunk {
				t.Errorf("chunks streamed before the panic (IsLastChunk at the end: %v), -want +got:\n%s", lastChunk, diff)
			}
		})
		row(t, areaPanic, "a custom module panics (nil map) inside `Stream`, on the run goroutine",
			"the chunks already streamed are delivered, then the stream's last element is a `*dspy.PanicError` (value and stack); the process goes on")
	})

	t.Run("handler", func(t *testing.T) {
		prog := streaming.MustStreamify(&buggy{P: dspy.NewPredict("question -> answer")},
			streaming.WithListeners(streaming.NewListener("answer")))
		h := streaming.Handler(prog, streaming.WithInputFields("question"), streaming.WithLogger(discardLogger()))
		srv := serveHTTP(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h.ServeHTTP(w, r.WithContext(dspy.WithSettings(r.Context(), dspy.WithLM(dspytest.Repeat(reply)))))
		}))
		for range 2 { // the server keeps serving after a panic
			resp, err := http.Post(srv.URL, "application/json", strings.NewReader(`{"question": "q"}`))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			body := string(b)
			if !strings.Contains(body, "event: error\ndata: {\"error\":\"internal error\"}") || !strings.HasSuffix(body, "data: [DONE]\n\n") || strings.Contains(body, "nil map") {
				t.Fatalf("response:\n%s\nwant an error event \"internal error\" (no detail), then [DONE]", body)
			}
		}
		row(t, areaPanic, "a module panics during a `streaming.Handler` request, twice",
			"each client gets `event: error` `{\"error\":\"internal error\"}` (no panic text) and `[DONE]`; the server goes on serving")
	})

	t.Run("batch", func(t *testing.T) {
		mod := &buggy{P: dspy.NewPredict("question -> answer")}
		res, err := dspy.Batch(ctxWith(dspytest.Repeat(reply)), mod, []dspy.Inputs{{"question": "a"}, {"question": "b"}}, dspy.BatchOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range res {
			asPanic(t, r.Err, "assignment to entry in nil map")
			_ = i
		}
		ok, err := dspy.Batch(ctxWith(dspytest.Repeat(reply)), dspy.NewPredict("question -> answer"), []dspy.Inputs{{"question": "c"}}, dspy.BatchOptions{})
		if err != nil || ok[0].Err != nil {
			t.Fatalf("a batch after the panics: %v, %v", err, ok[0].Err)
		}
		row(t, areaPanic, "every item of a `dspy.Batch` panics",
			"each item's `BatchResult.Err` is a `*dspy.PanicError`; `Batch` returns, and later batches run")
	})

	t.Run("tools", func(t *testing.T) {
		bad := dspy.NewTool("lookup", "", func(context.Context, struct {
			Q string `json:"q"`
		}) (string, error) {
			var p *struct{ s string }
			return p.s, nil // nil pointer dereference
		})
		good := dspy.NewTool("echo", "", func(_ context.Context, a struct {
			Q string `json:"q"`
		}) (string, error) {
			return a.Q, nil
		})
		model := dspytest.NewScriptedLM().Push(dspytest.Reply{ToolCalls: []lm.ToolCall{
			{ID: "1", Name: "echo", Arguments: `{"q":"x"}`}, {ID: "2", Name: "lookup", Arguments: `{"q":"y"}`}}})
		agent := dspy.NewReAct("question -> answer", []*dspy.Tool{good, bad}, dspy.WithNativeTools())
		_, err := agent.Call(ctxWith(model), dspy.Inputs{"question": "q"})
		asPanic(t, err, "nil pointer dereference")
		row(t, areaPanic, "a tool panics (nil pointer) while ReAct runs two native tool calls concurrently",
			"the agent's call returns a `*dspy.PanicError` (a bug, not an observation) after both calls ended; no goroutine is left")
	})

	t.Run("future", func(t *testing.T) {
		f := dspy.ACall(ctxWith(dspytest.Repeat(reply)), &buggy{P: dspy.NewPredict("question -> answer")}, dspy.Inputs{"question": "q"})
		_, err := f.Await(t.Context())
		asPanic(t, err, "assignment to entry in nil map")
		// Gather, with a future that succeeds beside the one that panics.
		futs := []*dspy.Future[*dspy.Prediction]{
			dspy.ACall(ctxWith(dspytest.Repeat(reply)), dspy.NewPredict("question -> answer"), dspy.Inputs{"question": "ok"}),
			dspy.ACall(ctxWith(dspytest.Repeat(reply)), &buggy{P: dspy.NewPredict("question -> answer")}, dspy.Inputs{"question": "q"}),
		}
		_, err = dspy.Gather(t.Context(), futs...)
		asPanic(t, err, "assignment to entry in nil map")
		row(t, areaPanic, "a module started with `ACall` panics",
			"`Future.Await` (and `Gather`) return a `*dspy.PanicError`; the value and stack are kept")
	})
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func serveHTTP(t *testing.T, h http.Handler) *httptest.Server {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

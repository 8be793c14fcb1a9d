package streaming_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"

	"github.com/godspy/dspy"
	"github.com/godspy/dspy/dspytest"
	"github.com/godspy/dspy/streaming"
)

// Stream a ChainOfThought's answer token by token (this LM sends 4-byte
// chunks; the listener holds back only what could still be a marker, so the
// end of the field is an empty last chunk), with the final prediction last.
func ExampleStreamify() {
	model := dspytest.NewScriptedLM(dspytest.ChatReply(
		"reasoning", "The Moon's gravity pulls the oceans.",
		"answer", "Mostly the Moon."))
	ctx := dspy.WithSettings(context.Background(), dspy.WithLM(model))

	prog, err := streaming.Streamify(dspy.NewChainOfThought("question -> answer"),
		streaming.WithListeners(streaming.NewListener("answer")))
	if err != nil {
		fmt.Println(err)
		return
	}
	for ev, err := range prog.Stream(ctx, dspy.Inputs{"question": "What causes tides?"}) {
		if err != nil {
			fmt.Println("error:", err)
			return
		}
		switch e := ev.(type) {
		case *streaming.StreamResponse:
			fmt.Printf("%q last=%v\n", e.Chunk, e.IsLastChunk)
		case *streaming.Final:
			fmt.Println("final:", e.Prediction.Get("answer"))
		}
	}
	// Output:
	// "M" last=false
	// "ostl" last=false
	// "y th" last=false
	// "e Mo" last=false
	// "on." last=false
	// "" last=true
	// final: Mostly the Moon.
}

// Chan delivers the same events on a channel, for select loops; a failure
// arrives as an *ErrorEvent.
func ExampleProgram_Chan() {
	model := dspytest.NewScriptedLM(dspytest.ChatReply("answer", "Paris"))
	ctx := dspy.WithSettings(context.Background(), dspy.WithLM(model))
	prog := streaming.MustStreamify(dspy.NewPredict("question -> answer"),
		streaming.WithListeners(streaming.NewListener("answer")))

	var answer strings.Builder
	for ev := range prog.Chan(ctx, dspy.Inputs{"question": "Capital of France?"}) {
		switch e := ev.(type) {
		case *streaming.StreamResponse:
			answer.WriteString(e.Chunk)
		case *streaming.ErrorEvent:
			fmt.Println("error:", e.Err)
		case *streaming.Final:
			fmt.Println(answer.String(), "=", e.Prediction.Get("answer"))
		}
	}
	// Output: Paris = Paris
}

// Status messages come from hooks: embed DefaultStatus and override what
// you need.
type thinking struct{ streaming.DefaultStatus }

func (thinking) LMStart(dspy.LMStartInfo) string { return "Thinking..." }

func ExampleWithStatus() {
	model := dspytest.NewScriptedLM(dspytest.ChatReply("answer", "42"))
	ctx := dspy.WithSettings(context.Background(), dspy.WithLM(model))
	prog := streaming.MustStreamify(dspy.NewPredict("question -> answer"),
		streaming.WithListeners(streaming.NewListener("answer")),
		streaming.WithStatus(thinking{}))
	for ev, err := range prog.Stream(ctx, dspy.Inputs{"question": "The answer?"}) {
		if err != nil {
			fmt.Println("error:", err)
			return
		}
		if s, ok := ev.(*streaming.StatusMessage); ok {
			fmt.Println(s.Message)
		}
	}
	// Output: Thinking...
}

// Handler serves a program as server-sent events.
func ExampleHandler() {
	model := dspytest.NewScriptedLM(dspytest.ChatReply("answer", "Hi!"))
	prog := streaming.MustStreamify(dspy.NewPredict("question -> answer"),
		streaming.WithListeners(streaming.NewListener("answer")))
	h := streaming.Handler(prog)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The LM usually comes from dspy.Configure; here from the request's ctx.
		h.ServeHTTP(w, r.WithContext(dspy.WithSettings(r.Context(), dspy.WithLM(model))))
	}))
	defer srv.Close()

	resp, err := http.Post(srv.URL, "application/json", strings.NewReader(`{"question": "Hello?"}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	// Call ids are unique in the process, so they differ from run to run.
	fmt.Print(regexp.MustCompile(`"call_id":\d+`).ReplaceAllString(string(body), `"call_id":N`))
	// Output:
	// id: 1
	// event: chunk
	// data: {"predict_name":"self","signature_field_name":"answer","chunk":"H","is_last_chunk":false,"call_id":N}
	//
	// id: 2
	// event: chunk
	// data: {"predict_name":"self","signature_field_name":"answer","chunk":"i!","is_last_chunk":false,"call_id":N}
	//
	// id: 3
	// event: chunk
	// data: {"predict_name":"self","signature_field_name":"answer","chunk":"","is_last_chunk":true,"call_id":N}
	//
	// id: 4
	// event: prediction
	// data: {"prediction":{"answer":"Hi!"},"usage":{"prompt_tokens":141,"completion_tokens":12,"total_tokens":153,"cached_tokens":0,"reasoning_tokens":0}}
	//
	// data: [DONE]
}

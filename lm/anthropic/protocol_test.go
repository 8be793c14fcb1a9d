package anthropic_test

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/godspy/dspy/internal/replay"
	"github.com/godspy/dspy/lm"
	"github.com/godspy/dspy/lm/anthropic"
)

// events frames Anthropic events as the API does: event name and data.
func events(evs ...string) string {
	var b strings.Builder
	for _, e := range evs {
		typ := e[len(`{"type":"`) : strings.Index(e[len(`{"type":"`):], `"`)+len(`{"type":"`)]
		b.WriteString("event: " + typ + "\ndata: " + e + "\n\n")
	}
	return b.String()
}

const (
	start1    = `{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[],"model":"claude-x","usage":{"input_tokens":9,"output_tokens":1}}}`
	start2    = `{"type":"message_start","message":{"id":"msg_2","type":"message","role":"assistant","content":[],"model":"claude-x","usage":{"input_tokens":9,"output_tokens":1}}}`
	toolStart = `{"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"toolu_1","name":"f","input":{}}}`
	textStart = `{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`
	textDelta = `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}`
	stop0     = `{"type":"content_block_stop","index":0}`
	msgDelta  = `{"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":5}}`
	msgStop   = `{"type":"message_stop"}`
)

func inputDelta(s string) string {
	return `{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":` + quote(s) + `}}`
}

func quote(s string) string { return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"` }

// TestProtocolErrors: streams that would yield a corrupt answer (two
// generations spliced, a tool call cut or not JSON) end with a
// *anthropic.ProtocolError that matches lm.ErrMalformed and carries what
// was received, never with a silently truncated tool call.
func TestProtocolErrors(t *testing.T) {
	tests := []struct {
		name  string
		body  string
		want  anthropic.ProtocolError
		isEOF bool
	}{
		{"second message_start inside an open tool_use block",
			events(start1, toolStart, inputDelta(`{"value":"Spark`), start2, toolStart, inputDelta(`{"value":"Sparkle Day"}`), stop0, msgDelta, msgStop),
			anthropic.ProtocolError{Event: "message_start", Problem: `message "msg_2" started inside message "msg_1"`, Tool: &lm.ToolCall{ID: "toolu_1", Name: "f", Arguments: `{"value":"Spark`}}, false},
		{"second message_start after a text block",
			events(start1, textStart, textDelta, stop0, start2, textStart, textDelta, stop0, msgDelta, msgStop),
			anthropic.ProtocolError{Event: "message_start", Problem: `message "msg_2" started inside message "msg_1"`}, false},
		{"stream cut inside a tool_use block",
			events(start1, toolStart, inputDelta(`{"city":"Par`)),
			anthropic.ProtocolError{Problem: "the stream ended inside a tool_use block", Tool: &lm.ToolCall{ID: "toolu_1", Name: "f", Arguments: `{"city":"Par`}}, true},
		{"tool input not JSON at content_block_stop",
			events(start1, toolStart, inputDelta(`{"city":"Par`), stop0, msgDelta, msgStop),
			anthropic.ProtocolError{Event: "content_block_stop", Problem: "the tool input is not valid JSON", Tool: &lm.ToolCall{ID: "toolu_1", Name: "f", Arguments: `{"city":"Par`}}, false},
		{"message_stop inside a tool_use block",
			events(start1, toolStart, inputDelta(`{}`), msgDelta, msgStop),
			anthropic.ProtocolError{Event: "message_stop", Problem: "the message stopped inside a tool_use block", Tool: &lm.ToolCall{ID: "toolu_1", Name: "f", Arguments: `{}`}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := replay.PieceServer(t, []byte(tt.body), 2)
			_, err := replay.Collect(t, anthropic.New("m", anthropic.WithBaseURL(srv.URL), anthropic.WithRetry(lm.NoRetry())).Stream(t.Context(), &lm.Request{}))
			var pe *anthropic.ProtocolError
			if !errors.As(err, &pe) || !errors.Is(err, lm.ErrMalformed) {
				t.Fatalf("err = %v, want *anthropic.ProtocolError matching lm.ErrMalformed", err)
			}
			if diff := cmp.Diff(tt.want, *pe, cmpopts.IgnoreUnexported(anthropic.ProtocolError{})); diff != "" {
				t.Errorf("-want +got\n%s", diff)
			}
			if got := errors.Is(err, io.ErrUnexpectedEOF); got != tt.isEOF {
				t.Errorf("errors.Is(err, io.ErrUnexpectedEOF) = %v, want %v", got, tt.isEOF)
			}
		})
	}
}

// TestWellFormedTools: a repeated message_start of the same message before
// any block is the same message, and a tool_use without input deltas takes
// no arguments ({}, as in a blocking reply).
func TestWellFormedTools(t *testing.T) {
	body := events(start1, start1, toolStart, inputDelta(""), stop0, msgDelta, msgStop)
	srv := replay.PieceServer(t, []byte(body), 3)
	resp, err := replay.Collect(t, anthropic.New("m", anthropic.WithBaseURL(srv.URL)).Stream(t.Context(), &lm.Request{}))
	if err != nil {
		t.Fatal(err)
	}
	want := []lm.ToolCall{{ID: "toolu_1", Name: "f", Arguments: "{}"}}
	if diff := cmp.Diff(want, resp.Choices[0].Message.ToolCalls); diff != "" || resp.ID != "msg_1" {
		t.Errorf("id %q, calls -want +got\n%s", resp.ID, diff)
	}
}

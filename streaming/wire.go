package streaming

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/godspy/dspy"
	"github.com/godspy/dspy/lm"
)

// The JSON payloads of Handler's events: docs/sse.md is their
// specification, and TestSSEDocumented holds the two together.

// SSEVersion is the version of the wire format docs/sse.md specifies.
const SSEVersion = "2"

// sseEvent maps a stream event to its SSE event name and JSON payload; ""
// for an event that is not sent.
func (c *handlerConfig) sseEvent(ev Event) (string, any) {
	switch e := ev.(type) {
	case *StatusMessage:
		return "status", statusJSON{e.Message}
	case *StreamResponse:
		return "chunk", chunkJSON{e.PredictName, e.SignatureFieldName, e.Chunk, e.IsLastChunk, e.CallID}
	case *Final:
		j := finalJSON{Prediction: predictionJSON{e.Prediction}}
		if e.Prediction != nil {
			j.Usage = usageOf(e.Prediction.Usage)
		}
		return "prediction", j
	case *RawChunk:
		return "raw", rawJSON{e.PredictName, e.CallID, e.Chunk.Text, e.Chunk.Reasoning}
	case *LMStart:
		return "lm_start", lmStartJSON{e.PredictName, e.CallID, e.Model}
	case *LMEnd:
		j := lmEndJSON{PredictName: e.PredictName, CallID: e.CallID, Model: e.Model, CacheHit: e.CacheHit,
			FirstChunkMS: millis(e.FirstChunk), DurationMS: millis(e.Duration), FinishReason: e.FinishReason, Usage: usageOf(e.Usage)}
		if e.Err != nil {
			j.Error, j.Detail = UserMessage(e.Err), c.detail(e.Err)
		}
		return "lm_end", j
	case *ToolCallStart:
		return "tool_call_start", toolStartJSON{e.PredictName, e.CallID, e.ToolCallID, e.ToolName, jsonValue(e.Args)}
	case *ToolCallDelta:
		return "tool_call_delta", toolDeltaJSON{e.PredictName, e.CallID, e.ToolCallID, e.ToolName, e.ArgsDelta}
	case *ToolCallEnd:
		j := toolEndJSON{PredictName: e.PredictName, CallID: e.CallID, ToolCallID: e.ToolCallID, ToolName: e.ToolName, DurationMS: millis(e.Duration)}
		if e.Err != nil {
			j.Error, j.Detail = toolErrorMessage(e.Err), c.detail(e.Err)
		} else {
			j.Output = jsonValue(e.Result)
		}
		return "tool_call_end", j
	case *StepStart:
		return "step_start", stepStartJSON{e.PredictName, e.CallID, e.Index}
	case *StepEnd:
		j := stepEndJSON{PredictName: e.PredictName, CallID: e.CallID, Index: e.Index, Done: e.Done}
		if e.Err != nil {
			j.Error, j.Detail = UserMessage(e.Err), c.detail(e.Err)
		}
		return "step_end", j
	case *Custom:
		return "custom", customJSON{e.PredictName, e.CallID, e.Name, jsonValue(e.Data)}
	}
	return "", nil
}

// detail is the full text of err for a client, when WithErrorDetail is on.
func (c *handlerConfig) detail(err error) string {
	if !c.errorDetail || err == nil {
		return ""
	}
	return err.Error()
}

type statusJSON struct {
	Message string `json:"message"`
}

type chunkJSON struct {
	PredictName        string `json:"predict_name"`
	SignatureFieldName string `json:"signature_field_name"`
	Chunk              string `json:"chunk"`
	IsLastChunk        bool   `json:"is_last_chunk"`
	CallID             uint64 `json:"call_id"`
}

type rawJSON struct {
	PredictName string `json:"predict_name"`
	CallID      uint64 `json:"call_id"`
	Text        string `json:"text,omitempty"`
	Reasoning   string `json:"reasoning,omitempty"`
}

type finalJSON struct {
	Prediction predictionJSON `json:"prediction"`
	Usage      usageJSON      `json:"usage"`
}

type errorJSON struct {
	Error  string `json:"error"`
	Detail string `json:"detail,omitempty"`
}

type usageJSON struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
	CachedTokens     int `json:"cached_tokens"`
	ReasoningTokens  int `json:"reasoning_tokens"`
}

func usageOf(u lm.Usage) usageJSON {
	return usageJSON{u.PromptTokens, u.CompletionTokens, u.TotalTokens, u.CachedTokens, u.ReasoningTokens}
}

type lmStartJSON struct {
	PredictName string `json:"predict_name"`
	CallID      uint64 `json:"call_id"`
	Model       string `json:"model"`
}

type lmEndJSON struct {
	PredictName  string    `json:"predict_name"`
	CallID       uint64    `json:"call_id"`
	Model        string    `json:"model"`
	CacheHit     bool      `json:"cache_hit"`
	FirstChunkMS float64   `json:"first_chunk_ms"`
	DurationMS   float64   `json:"duration_ms"`
	FinishReason string    `json:"finish_reason"`
	Usage        usageJSON `json:"usage"`
	Error        string    `json:"error,omitempty"`
	Detail       string    `json:"detail,omitempty"`
}

type toolStartJSON struct {
	PredictName string          `json:"predict_name"`
	CallID      uint64          `json:"call_id"`
	ToolCallID  string          `json:"tool_call_id"`
	ToolName    string          `json:"tool_name"`
	Args        json.RawMessage `json:"args"`
}

type toolDeltaJSON struct {
	PredictName string `json:"predict_name"`
	CallID      uint64 `json:"call_id"`
	ToolCallID  string `json:"tool_call_id"`
	ToolName    string `json:"tool_name"`
	ArgsDelta   string `json:"args_delta"`
}

type toolEndJSON struct {
	PredictName string          `json:"predict_name"`
	CallID      uint64          `json:"call_id"`
	ToolCallID  string          `json:"tool_call_id"`
	ToolName    string          `json:"tool_name"`
	Output      json.RawMessage `json:"output,omitempty"`
	Error       string          `json:"error,omitempty"`
	Detail      string          `json:"detail,omitempty"`
	DurationMS  float64         `json:"duration_ms"`
}

type stepStartJSON struct {
	PredictName string `json:"predict_name"`
	CallID      uint64 `json:"call_id"`
	Index       int    `json:"index"`
}

type stepEndJSON struct {
	PredictName string `json:"predict_name"`
	CallID      uint64 `json:"call_id"`
	Index       int    `json:"index"`
	Done        bool   `json:"done"`
	Error       string `json:"error,omitempty"`
	Detail      string `json:"detail,omitempty"`
}

type customJSON struct {
	PredictName string          `json:"predict_name"`
	CallID      uint64          `json:"call_id"`
	Name        string          `json:"name"`
	Data        json.RawMessage `json:"data"`
}

// millis is d in milliseconds, to the microsecond.
func millis(d time.Duration) float64 {
	return math.Round(float64(d)/float64(time.Microsecond)) / 1000
}

// marshal encodes v as JSON without HTML escaping.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// jsonValue encodes a value of the program's (a tool's result, arguments,
// a custom payload) for a client. A value JSON cannot encode is sent as
// its fmt text, so one odd value does not end the stream.
func jsonValue(v any) json.RawMessage {
	b, err := marshal(v)
	if err != nil {
		b, _ = marshal(fmt.Sprint(v))
	}
	return b
}

// predictionJSON writes a prediction's fields as an object in signature
// order, without HTML escaping (Prediction.MarshalJSON escapes).
type predictionJSON struct{ p *dspy.Prediction }

func (pj predictionJSON) MarshalJSON() ([]byte, error) {
	b := []byte{'{'}
	if pj.p != nil {
		for i, n := range pj.p.Names() {
			if i > 0 {
				b = append(b, ',')
			}
			k, _ := marshal(n)
			b = append(append(append(b, k...), ':'), jsonValue(pj.p.Get(n))...)
		}
	}
	return append(b, '}'), nil
}

// toolErrorMessage is what a client is told of a tool's failure: a
// bad-arguments error (the LM's mistake, which the agent is shown too)
// as it is, any other only as a failure, since a tool's own error text
// may hold internal detail (WithErrorDetail adds it).
func toolErrorMessage(err error) string {
	var ae *dspy.ToolArgError
	if errors.As(err, &ae) {
		return fmt.Sprintf("argument %q: %s", ae.Arg, ae.Msg)
	}
	return "the tool failed"
}

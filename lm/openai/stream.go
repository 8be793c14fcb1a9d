package openai

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"

	"github.com/godspy/dspy/internal/provider"
	"github.com/godspy/dspy/internal/sse"
	"github.com/godspy/dspy/lm"
)

// streamState is the decoding state of one attempt of a Stream call.
type streamState struct {
	finished bool // a finish_reason arrived
	head     chunkHead
	sawHead  bool
	json     sse.JSONDecoder
	// Tool calls sent without an index are numbered here.
	nextCall int
	curCall  int
	lastID   string
	id       string
	model    string
	refusal  []byte
}

// Stream makes a streaming call. The request is sent when iteration starts;
// breaking out cancels it. Failures before the first chunk are retried as
// the policy allows; a failure after it ends the stream with an
// *lm.StreamError that holds what was received. A stream that stops before
// a finish reason fails with an error wrapping io.ErrUnexpectedEOF.
func (c *Client) Stream(ctx context.Context, req *lm.Request) iter.Seq2[lm.Chunk, error] {
	return func(yield func(lm.Chunk, error) bool) {
		yield = c.redact.Yield(yield)
		body, err := c.encode(req, true)
		if err != nil {
			yield(lm.Chunk{}, err)
			return
		}
		st := &streamState{}
		rb := provider.NewBody(body, func() ([]byte, error) { return c.encode(req, true) })
		c.retry.Stream(ctx, yield, func(ctx context.Context, emit func(lm.Chunk) bool) (http.Header, error) {
			*st = streamState{} // each attempt decodes afresh
			return c.streamOnce(ctx, rb, st, emit)
		})
	}
}

// streamOnce makes one attempt. It returns nil when the stream ended well or
// the consumer stopped, else the error and any response header.
func (c *Client) streamOnce(ctx context.Context, body *provider.Body, st *streamState, emit func(lm.Chunk) bool) (http.Header, error) {
	s, h, err := provider.Open(ctx, c.provider, c.idle, c.maxLine, func(ctx context.Context) (*http.Response, http.Header, error) {
		return c.post(ctx, body, true)
	})
	if err != nil {
		return h, err
	}
	defer s.Close()
	for s.Next() {
		data := s.Data()
		if ev := s.Event(); len(ev) > 0 && string(ev) == "error" {
			return h, c.eventError(data, h)
		}
		if sse.IsDone(data) {
			return h, c.end(st)
		}
		ch, err := c.decodeChunk(data, st, h)
		if err != nil {
			return h, err
		}
		if ch.Text == "" && ch.Reasoning == "" && len(ch.ToolCalls) == 0 && ch.FinishReason == "" && ch.Usage == nil {
			continue
		}
		if ch.FinishReason != "" {
			st.finished = true
			if len(st.refusal) > 0 {
				return h, c.end(st)
			}
		}
		if !emit(ch) {
			return h, nil
		}
	}
	if err := s.Err(); err != nil {
		return h, err
	}
	if !st.finished {
		return h, fmt.Errorf("%s: %w: %w", c.provider, errNoFinish, io.ErrUnexpectedEOF)
	}
	return h, c.end(st)
}

// end checks a stream that ended: a refusal becomes its error.
func (c *Client) end(st *streamState) error {
	if len(st.refusal) > 0 {
		return &RefusalError{Refusal: string(st.refusal)}
	}
	return nil
}

func (c *Client) eventError(data []byte, h http.Header) error {
	var env struct {
		Error *wireError `json:"error"`
	}
	data = []byte(c.redact.String(string(data))) // before truncation
	e := &lm.APIError{Message: truncate(string(data), 500)}
	if json.Unmarshal(data, &env) == nil && env.Error != nil {
		e = env.Error.apiError()
	}
	e.Provider, e.RequestID = c.provider, requestID(h)
	c.redact.APIError(e)
	return e
}

// decodeChunk decodes one chunk into st's reused structs and returns what
// choice 0 adds.
func (c *Client) decodeChunk(data []byte, st *streamState, h http.Header) (lm.Chunk, error) {
	if len(data) == 0 {
		return lm.Chunk{}, nil // "data:" alone: dispatched by the SSE standard, holds no chunk
	}
	if st.sawHead {
		if ch, ok := fastChunk(data); ok {
			ch.ID, ch.Model = st.id, st.model
			return ch, nil
		}
	}
	return c.decodeJSON(data, st, h)
}

// decodeJSON is decodeChunk with encoding/json: every chunk shape.
func (c *Client) decodeJSON(data []byte, st *streamState, h http.Header) (lm.Chunk, error) {
	w := &st.head
	w.reset()
	var err error
	if !st.sawHead {
		w.ID, w.Model = "", ""
		err = st.json.Decode(data, w)
		if w.ID != "" || w.Model != "" {
			st.id, st.model, st.sawHead = w.ID, w.Model, true
		}
	} else {
		err = st.json.Decode(data, &w.chunkBody)
	}
	if err != nil && typeMismatch(err) {
		// Content (or another field) of a type the fast struct does not
		// take: a list of parts.
		err = decodeParts(data, w)
		if err == nil && !st.sawHead && (w.ID != "" || w.Model != "") {
			st.id, st.model, st.sawHead = w.ID, w.Model, true
		}
	}
	if err != nil {
		return lm.Chunk{}, fmt.Errorf("%s: %w: chunk %.200q: %v", c.provider, lm.ErrMalformed, c.redact.String(string(data)), err)
	}
	if w.Error != nil {
		e := w.Error.apiError()
		e.Provider, e.RequestID = c.provider, requestID(h)
		c.redact.APIError(e)
		return lm.Chunk{}, e
	}
	ch := lm.Chunk{ID: st.id, Model: st.model}
	if w.Usage == nil && w.XGroq != nil {
		w.Usage = w.XGroq.Usage
	}
	if w.Usage != nil {
		u := w.Usage.toLM()
		ch.Usage = &u
	}
	for i := range w.Choices {
		cc := &w.Choices[i]
		if cc.Index != 0 {
			continue
		}
		d := &cc.Delta
		ch.Text = d.Content
		ch.Reasoning = d.ReasoningContent
		if ch.Reasoning == "" {
			ch.Reasoning = d.Reasoning
		}
		st.refusal = append(st.refusal, d.Refusal...)
		ch.FinishReason = cc.FinishReason
		if len(d.ToolCalls) > 0 {
			ch.ToolCalls = make([]lm.ToolCallDelta, len(d.ToolCalls))
			for j, tc := range d.ToolCalls {
				ch.ToolCalls[j] = lm.ToolCallDelta{Index: st.callIndex(&tc), ID: tc.ID, Name: tc.Function.Name, Arguments: tc.Function.Arguments}
			}
		}
	}
	return ch, nil
}

// typeMismatch reports a JSON value of another type than the fast struct's
// field. It is called only on the error path: errors.As makes its target
// escape, which would cost an allocation on every chunk.
func typeMismatch(err error) bool {
	var ute *json.UnmarshalTypeError
	return errors.As(err, &ute)
}

// callIndex numbers a tool-call fragment. Most servers send an index; some
// (Gemini, Ollama) send none. Then a fragment with a new id, or with a name
// and no id, starts a call, and one with neither continues the last call.
func (st *streamState) callIndex(tc *wireToolCall) int {
	if tc.Index != nil {
		st.nextCall = max(st.nextCall, *tc.Index+1)
		return *tc.Index
	}
	switch {
	case tc.ID != "" && tc.ID == st.lastID && st.nextCall > 0:
	case tc.ID != "" || tc.Function.Name != "" || st.nextCall == 0:
		st.curCall = st.nextCall
		st.nextCall++
		st.lastID = tc.ID
	}
	return st.curCall
}

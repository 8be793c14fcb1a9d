package anthropic

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

// event is one stream event, decoded into a struct reused between events.
// Pointer fields belong to rare events only, so a text delta allocates
// nothing but its text.
type event struct {
	Type    string `json:"-"` // filled from the SSE event name
	Index   int    `json:"index"`
	Message *struct {
		ID    string    `json:"id"`
		Model string    `json:"model"`
		Usage wireUsage `json:"usage"`
	} `json:"message"`
	ContentBlock *struct {
		Type     string `json:"type"`
		ID       string `json:"id"`
		Name     string `json:"name"`
		Text     string `json:"text"`
		Thinking string `json:"thinking"`
	} `json:"content_block"`
	Delta struct {
		Text        string `json:"text"`
		PartialJSON string `json:"partial_json"`
		Thinking    string `json:"thinking"`
		StopReason  string `json:"stop_reason"`
	} `json:"delta"`
	Usage *wireUsage `json:"usage"`
	Error *struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	} `json:"error"`
}

// typedEvent also reads "type", for streams without SSE event names.
type typedEvent struct {
	Type string `json:"type"`
}

// decoder turns stream events into lm chunks.
type decoder struct {
	ev       event
	json     sse.JSONDecoder
	id       string
	model    string
	usage    wireUsage
	blocks   []block // by content block index
	tools    int
	started  bool // message_start arrived
	anyBlock bool // a content block started
	finished bool // message_delta with a stop reason arrived
	stopped  bool // message_stop arrived
	redact   provider.Redactor
}

// block is the state of one content block.
type block struct {
	tool     int // the tool call's index, -1 if not a client tool_use block
	open     bool
	id, name string
	input    []byte // a tool's input received so far
}

// decode handles one event. It returns the chunk to yield (ok false for
// none) or the stream's error.
func (d *decoder) decode(name, data []byte) (ch lm.Chunk, ok bool, err error) {
	if len(data) == 0 && string(name) != "error" {
		return ch, false, nil // "data:" alone: dispatched by the SSE standard, holds no event
	}
	ev := &d.ev
	*ev = event{}
	if err := d.json.Decode(data, ev); err != nil {
		return ch, false, fmt.Errorf("anthropic: %w: event %.200q: %v", lm.ErrMalformed, d.redact.String(string(data)), err)
	}
	typ := string(name) // no allocation: compared, not kept
	if len(name) == 0 {
		var te typedEvent
		_ = json.Unmarshal(data, &te)
		typ = te.Type
	}
	switch typ {
	case "content_block_delta":
		ch = lm.Chunk{ID: d.id, Model: d.model, Text: ev.Delta.Text, Reasoning: ev.Delta.Thinking}
		if ev.Delta.PartialJSON != "" {
			b := d.block(ev.Index)
			if b == nil || b.tool < 0 {
				return ch, false, nil // a server tool's input
			}
			b.input = append(b.input, ev.Delta.PartialJSON...)
			ch.ToolCalls = []lm.ToolCallDelta{{Index: b.tool, Arguments: ev.Delta.PartialJSON}}
		}
		return ch, ch.Text != "" || ch.Reasoning != "" || ch.ToolCalls != nil, nil
	case "content_block_start":
		cb := ev.ContentBlock
		if cb == nil || ev.Index < 0 || ev.Index > maxBlocks {
			return ch, false, nil
		}
		for len(d.blocks) <= ev.Index {
			d.blocks = append(d.blocks, block{tool: -1})
		}
		d.anyBlock = true
		b := &d.blocks[ev.Index]
		*b = block{tool: -1, open: true}
		ch = lm.Chunk{ID: d.id, Model: d.model}
		switch cb.Type {
		case "tool_use":
			b.tool, b.id, b.name = d.tools, cb.ID, cb.Name
			ch.ToolCalls = []lm.ToolCallDelta{{Index: d.tools, ID: cb.ID, Name: cb.Name}}
			d.tools++
			return ch, true, nil
		case "text":
			ch.Text = cb.Text
		case "thinking":
			ch.Reasoning = cb.Thinking
		}
		return ch, ch.Text != "" || ch.Reasoning != "", nil
	case "content_block_stop":
		b := d.block(ev.Index)
		if b == nil || !b.open {
			return ch, false, nil
		}
		b.open = false
		if b.tool < 0 {
			return ch, false, nil
		}
		switch {
		case len(b.input) == 0:
			// No input deltas (or only empty ones): the tool takes no
			// arguments, {} as in a blocking reply.
			ch = lm.Chunk{ID: d.id, Model: d.model, ToolCalls: []lm.ToolCallDelta{{Index: b.tool, Arguments: "{}"}}}
			return ch, true, nil
		case !json.Valid(b.input):
			return ch, false, d.protocolError("content_block_stop", "the tool input is not valid JSON", b, false)
		}
		b.input = nil
		return ch, false, nil
	case "message_start":
		m := ev.Message
		if m == nil {
			return ch, false, nil
		}
		if d.started {
			if m.ID == d.id && !d.anyBlock {
				return ch, false, nil // the same message announced twice
			}
			return ch, false, d.protocolError("message_start", fmt.Sprintf("message %q started inside message %q", m.ID, d.id), d.openTool(), false)
		}
		d.started = true
		d.id, d.model = m.ID, m.Model
		d.usage.merge(&m.Usage)
		return ch, false, nil
	case "message_delta":
		if ev.Usage != nil {
			d.usage.merge(ev.Usage)
		}
		u := d.usage.toLM()
		ch = lm.Chunk{ID: d.id, Model: d.model, Usage: &u}
		if ev.Delta.StopReason != "" {
			ch.FinishReason = FinishReason(ev.Delta.StopReason)
			d.finished = true
		}
		return ch, true, nil
	case "message_stop":
		if b := d.openTool(); b != nil {
			return ch, false, d.protocolError("message_stop", "the message stopped inside a tool_use block", b, false)
		}
		d.stopped = true
		return ch, false, nil
	case "error":
		e := &lm.APIError{Provider: providerName, Message: string(data)}
		if ev.Error != nil {
			e.Type, e.Message = ev.Error.Type, ev.Error.Message
		}
		d.redact.APIError(e)
		return ch, false, e
	}
	// ping and unknown events carry nothing for us.
	return ch, false, nil
}

// maxBlocks bounds the content block index a stream may use, so a hostile
// index cannot make the decoder allocate without limit.
const maxBlocks = 1 << 12

func (d *decoder) block(i int) *block {
	if i < 0 || i >= len(d.blocks) {
		return nil
	}
	return &d.blocks[i]
}

// openTool returns a tool_use block not yet stopped, or nil.
func (d *decoder) openTool() *block {
	for i := range d.blocks {
		if b := &d.blocks[i]; b.open && b.tool >= 0 {
			return b
		}
	}
	return nil
}

// end checks a stream whose body ended: a tool_use block still open is a
// cut tool call, never a silently truncated one.
func (d *decoder) end() error {
	if b := d.openTool(); b != nil {
		return d.protocolError("", "the stream ended inside a tool_use block", b, true)
	}
	if !d.finished {
		return fmt.Errorf("anthropic: %w: %w", errNoFinish, io.ErrUnexpectedEOF)
	}
	return nil
}

func (d *decoder) protocolError(event, problem string, b *block, cut bool) *ProtocolError {
	e := &ProtocolError{Event: event, Problem: problem, cut: cut}
	if b != nil && b.tool >= 0 {
		e.Tool = &lm.ToolCall{ID: b.id, Name: b.name, Arguments: string(b.input)}
	}
	return e
}

// ProtocolError reports an event stream that breaks the Messages protocol
// in a way that would corrupt the answer: a second message starting inside
// a message (two generations spliced together), a tool_use block whose
// input is not valid JSON when it stops, or one that never stops. It
// matches lm.ErrMalformed, and io.ErrUnexpectedEOF when the stream was cut.
type ProtocolError struct {
	// Event is the event at fault; "" when the stream ended.
	Event string
	// Problem says what was wrong.
	Problem string
	// Tool is the tool_use block concerned, with the input received so
	// far as Arguments; nil if none.
	Tool *lm.ToolCall
	cut  bool
}

func (e *ProtocolError) Error() string {
	s := "anthropic: malformed stream: " + e.Problem
	if e.Event != "" {
		s += " (at " + e.Event + ")"
	}
	if e.Tool != nil {
		s += fmt.Sprintf("; tool %s (%s) input so far %.200q", e.Tool.Name, e.Tool.ID, e.Tool.Arguments)
	}
	return s
}

// Unwrap returns lm.ErrMalformed, and io.ErrUnexpectedEOF for a cut stream.
func (e *ProtocolError) Unwrap() []error {
	if e.cut {
		return []error{lm.ErrMalformed, io.ErrUnexpectedEOF}
	}
	return []error{lm.ErrMalformed}
}

// Stream makes a streaming Messages call. The request is sent when
// iteration starts; breaking out cancels it. Failures before the first chunk
// are retried as the policy allows; after it, the stream ends with an
// *lm.StreamError holding what was received. An error event is an
// *lm.APIError (StatusCode 0; overloaded_error matches lm.ErrServer,
// rate_limit_error lm.ErrRateLimited).
func (c *Client) Stream(ctx context.Context, req *lm.Request) iter.Seq2[lm.Chunk, error] {
	return func(yield func(lm.Chunk, error) bool) {
		yield = c.redact.Yield(yield)
		first, err := c.encode(req, true)
		if err != nil {
			yield(lm.Chunk{}, err)
			return
		}
		body := provider.NewBody(first, func() ([]byte, error) { return c.encode(req, true) })
		c.retry.Stream(ctx, yield, func(ctx context.Context, emit func(lm.Chunk) bool) (http.Header, error) {
			return c.streamOnce(ctx, body, emit)
		})
	}
}

func (c *Client) streamOnce(ctx context.Context, body *provider.Body, emit func(lm.Chunk) bool) (http.Header, error) {
	s, h, err := provider.Open(ctx, providerName, c.idle, 0, func(ctx context.Context) (*http.Response, http.Header, error) {
		return c.post(ctx, body, true)
	})
	if err != nil {
		return h, err
	}
	defer s.Close()
	d := decoder{redact: c.redact}
	for s.Next() {
		ch, ok, err := d.decode(s.Event(), s.Data())
		if err != nil {
			var api *lm.APIError
			if errors.As(err, &api) {
				api.RequestID = c.redact.String(h.Get("Request-Id"))
			}
			return h, err
		}
		if ok && !emit(ch) {
			return h, nil
		}
		if d.stopped {
			return h, nil
		}
	}
	if err := s.Err(); err != nil {
		return h, err
	}
	return h, d.end()
}

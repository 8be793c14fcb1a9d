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
	toolIdx  []int // content block index -> tool call index, -1 if not a tool
	tools    int
	finished bool // message_delta with a stop reason arrived
	stopped  bool // message_stop arrived
	redact   provider.Redactor
}

// decode handles one event. It returns the chunk to yield (ok false for
// none) or the stream's error.
func (d *decoder) decode(name, data []byte) (ch lm.Chunk, ok bool, err error) {
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
			ti := d.tool(ev.Index)
			if ti < 0 {
				return ch, false, nil // a server tool's input
			}
			ch.ToolCalls = []lm.ToolCallDelta{{Index: ti, Arguments: ev.Delta.PartialJSON}}
		}
		return ch, ch.Text != "" || ch.Reasoning != "" || ch.ToolCalls != nil, nil
	case "content_block_start":
		b := ev.ContentBlock
		if b == nil || ev.Index < 0 || ev.Index > maxBlocks {
			return ch, false, nil
		}
		for len(d.toolIdx) <= ev.Index {
			d.toolIdx = append(d.toolIdx, -1)
		}
		ch = lm.Chunk{ID: d.id, Model: d.model}
		switch b.Type {
		case "tool_use":
			d.toolIdx[ev.Index] = d.tools
			ch.ToolCalls = []lm.ToolCallDelta{{Index: d.tools, ID: b.ID, Name: b.Name}}
			d.tools++
			return ch, true, nil
		case "text":
			ch.Text = b.Text
		case "thinking":
			ch.Reasoning = b.Thinking
		}
		return ch, ch.Text != "" || ch.Reasoning != "", nil
	case "message_start":
		if m := ev.Message; m != nil {
			d.id, d.model = m.ID, m.Model
			d.usage.merge(&m.Usage)
		}
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
	// ping, content_block_stop and unknown events carry nothing for us.
	return ch, false, nil
}

// maxBlocks bounds the content block index a stream may use, so a hostile
// index cannot make the decoder allocate without limit.
const maxBlocks = 1 << 12

func (d *decoder) tool(block int) int {
	if block < 0 || block >= len(d.toolIdx) {
		return -1
	}
	return d.toolIdx[block]
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
		body, err := c.encode(req, true)
		if err != nil {
			yield(lm.Chunk{}, err)
			return
		}
		c.retry.Stream(ctx, yield, func(ctx context.Context, emit func(lm.Chunk) bool) (http.Header, error) {
			return c.streamOnce(ctx, body, emit)
		})
	}
}

func (c *Client) streamOnce(ctx context.Context, body []byte, emit func(lm.Chunk) bool) (http.Header, error) {
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
	if !d.finished {
		return h, fmt.Errorf("anthropic: %w: %w", errNoFinish, io.ErrUnexpectedEOF)
	}
	return h, nil
}

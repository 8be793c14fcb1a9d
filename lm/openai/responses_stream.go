package openai

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/godspy/dspy/internal/provider"
	"github.com/godspy/dspy/internal/sse"
	"github.com/godspy/dspy/lm"
)

// eventType is the "type" of a Responses stream event, decoded without
// allocating a string: every event has one, and a delta event is most of
// a stream.
type eventType uint8

const (
	evOther eventType = iota
	evCreated
	evOutputTextDelta
	evOutputTextDone
	evRefusalDelta
	evRefusalDone
	evSummaryPartAdded
	evSummaryTextDelta
	evSummaryTextDone
	evReasoningTextDelta
	evReasoningTextDone
	evItemAdded
	evItemDone
	evArgsDelta
	evArgsDone
	evCompleted
	evIncomplete
	evFailed
	evError
)

func (t *eventType) UnmarshalJSON(b []byte) error {
	s := b
	if len(b) >= 2 && b[0] == '"' {
		s = b[1 : len(b)-1]
	}
	for _, c := range s {
		if c == '\\' { // an escaped name: rare enough to decode properly
			var v string
			if err := json.Unmarshal(b, &v); err != nil {
				return err
			}
			s = []byte(v)
			break
		}
	}
	switch string(s) {
	case "response.output_text.delta":
		*t = evOutputTextDelta
	case "response.function_call_arguments.delta":
		*t = evArgsDelta
	case "response.reasoning_summary_text.delta":
		*t = evSummaryTextDelta
	case "response.reasoning_text.delta":
		*t = evReasoningTextDelta
	case "response.refusal.delta":
		*t = evRefusalDelta
	case "response.created":
		*t = evCreated
	case "response.output_text.done":
		*t = evOutputTextDone
	case "response.refusal.done":
		*t = evRefusalDone
	case "response.reasoning_summary_part.added":
		*t = evSummaryPartAdded
	case "response.reasoning_summary_text.done":
		*t = evSummaryTextDone
	case "response.reasoning_text.done":
		*t = evReasoningTextDone
	case "response.output_item.added":
		*t = evItemAdded
	case "response.output_item.done":
		*t = evItemDone
	case "response.function_call_arguments.done":
		*t = evArgsDone
	case "response.completed":
		*t = evCompleted
	case "response.incomplete":
		*t = evIncomplete
	case "response.failed":
		*t = evFailed
	case "error":
		*t = evError
	default:
		*t = evOther
	}
	return nil
}

// respEvent is one stream event, decoded into a reused value: only the
// fields this client reads, so that item ids, logprobs, obfuscation and
// encrypted reasoning are skipped by the decoder instead of allocated.
type respEvent struct {
	Type         eventType       `json:"type"`
	Delta        string          `json:"delta"`
	OutputIndex  int             `json:"output_index"`
	ContentIndex int             `json:"content_index"`
	SummaryIndex int             `json:"summary_index"`
	Text         string          `json:"text"`      // output_text.done, reasoning …text.done
	Refusal      string          `json:"refusal"`   // refusal.done
	Arguments    string          `json:"arguments"` // function_call_arguments.done
	Item         *respStreamItem `json:"item"`
	Response     *respStatus     `json:"response"`
	// An error event: its fields at the top level (as documented) or in
	// an "error" object (as recorded).
	Code    flexText   `json:"code"`
	Message string     `json:"message"`
	Error   *respError `json:"error"`
}

type respStreamItem struct {
	Type      string `json:"type"`
	CallID    string `json:"call_id"`
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
}

// respStatus is the response object of created, completed, incomplete
// and failed events, without its output (which the events before it
// delivered).
type respStatus struct {
	ID                string     `json:"id"`
	Model             string     `json:"model"`
	Status            string     `json:"status"`
	Usage             *respUsage `json:"usage"`
	Error             *respError `json:"error"`
	IncompleteDetails *struct {
		Reason string `json:"reason"`
	} `json:"incomplete_details"`
}

// segment names a run of streamed text (an output_text part, a refusal
// part, a reasoning summary part or a reasoning_text part), so a .done
// event can tell whether its text already arrived in deltas and reasoning
// parts can be separated.
type segment struct {
	kind      uint8
	out, part int
}

const (
	segText uint8 = iota + 1
	segRefusal
	segSummary
	segReasoning
)

// respCall is what was delivered of one function call.
type respCall struct {
	index     int // output_index
	announced bool
	args      int // bytes of arguments delivered
}

// respState is the decoding state of one attempt of a Stream call.
type respState struct {
	json     sse.JSONDecoder
	ev       respEvent
	id       string
	model    string
	finished bool
	streamed []segment // segments that had deltas
	lastReas segment
	reasoned bool // some reasoning was delivered
	calls    []respCall
	refusal  []byte
}

func (st *respState) reset() {
	*st = respState{streamed: st.streamed[:0], calls: st.calls[:0]}
}

func (st *respState) had(s segment) bool {
	for _, x := range st.streamed {
		if x == s {
			return true
		}
	}
	return false
}

func (st *respState) mark(s segment) {
	if !st.had(s) {
		st.streamed = append(st.streamed, s)
	}
}

func (st *respState) call(index int) *respCall {
	for i := range st.calls {
		if st.calls[i].index == index {
			return &st.calls[i]
		}
	}
	st.calls = append(st.calls, respCall{index: index})
	return &st.calls[len(st.calls)-1]
}

// reasoning returns text as the next piece of reasoning of segment s,
// after a separator when it starts a new part.
func (st *respState) reasoning(s segment, text string) string {
	if text == "" {
		return ""
	}
	st.mark(s)
	if st.reasoned && s != st.lastReas {
		text = reasoningSep + text
	}
	st.reasoned, st.lastReas = true, s
	return text
}

// streamOnce makes one attempt. It returns nil when the stream ended well or
// the consumer stopped, else the error and any response header.
func (r *Responses) streamOnce(ctx context.Context, body *provider.Body, st *respState, emit func(lm.Chunk) bool) (http.Header, error) {
	c := r.c
	s, h, err := provider.Open(ctx, c.provider, c.idle, c.maxLine, func(ctx context.Context) (*http.Response, http.Header, error) {
		return c.post(ctx, body, true)
	})
	if err != nil {
		return h, err
	}
	defer s.Close()
	for s.Next() {
		data := s.Data()
		if len(data) == 0 || st.finished {
			continue // "data:" alone; or what follows the end (OpenRouter's [DONE])
		}
		if sse.IsDone(data) {
			break
		}
		sseError := string(s.Event()) == "error"
		ch, err := r.decodeEvent(data, st, sseError, h)
		if err != nil {
			if sseError && errors.Is(err, lm.ErrMalformed) {
				return h, c.eventError(data, h) // an error event that is not JSON
			}
			return h, err
		}
		if ch.Text == "" && ch.Reasoning == "" && len(ch.ToolCalls) == 0 && ch.FinishReason == "" && ch.Usage == nil {
			continue
		}
		if ch.FinishReason != "" && len(st.refusal) > 0 {
			return h, &RefusalError{Refusal: string(st.refusal)}
		}
		if !emit(ch) {
			return h, nil
		}
	}
	if err := s.Err(); err != nil {
		return h, err
	}
	if !st.finished {
		return h, fmt.Errorf("%s: stream ended before response.completed: %w", c.provider, io.ErrUnexpectedEOF)
	}
	return h, nil
}

// decodeEvent decodes one event into st's reused event and returns what it
// adds to the reply (an empty chunk for the many events that add nothing).
// sseError says the SSE event was named "error", which makes an error of
// data without a type it knows.
func (r *Responses) decodeEvent(data []byte, st *respState, sseError bool, h http.Header) (lm.Chunk, error) {
	c := r.c
	ev := &st.ev
	*ev = respEvent{}
	if err := st.json.Decode(data, ev); err != nil {
		return lm.Chunk{}, fmt.Errorf("%s: %w: event %.200q: %v", c.provider, lm.ErrMalformed, c.redact.String(string(data)), err)
	}
	if sseError && ev.Type == evOther {
		ev.Type = evError
	}
	ch := lm.Chunk{ID: st.id, Model: st.model}
	switch ev.Type {
	case evCreated:
		if ev.Response != nil {
			st.id, st.model = ev.Response.ID, ev.Response.Model
		}
	case evOutputTextDelta:
		st.mark(segment{segText, ev.OutputIndex, ev.ContentIndex})
		ch.Text = ev.Delta
	case evOutputTextDone:
		// A server that sends the text only whole (no deltas) is read too.
		if s := (segment{segText, ev.OutputIndex, ev.ContentIndex}); !st.had(s) {
			st.mark(s)
			ch.Text = ev.Text
		}
	case evRefusalDelta:
		st.mark(segment{segRefusal, ev.OutputIndex, ev.ContentIndex})
		st.refusal = append(st.refusal, ev.Delta...)
	case evRefusalDone:
		if s := (segment{segRefusal, ev.OutputIndex, ev.ContentIndex}); !st.had(s) {
			st.mark(s)
			st.refusal = append(st.refusal, ev.Refusal...)
		}
	case evSummaryTextDelta:
		ch.Reasoning = st.reasoning(segment{segSummary, ev.OutputIndex, ev.SummaryIndex}, ev.Delta)
	case evSummaryTextDone:
		if s := (segment{segSummary, ev.OutputIndex, ev.SummaryIndex}); !st.had(s) {
			ch.Reasoning = st.reasoning(s, ev.Text)
		}
	case evReasoningTextDelta:
		ch.Reasoning = st.reasoning(segment{segReasoning, ev.OutputIndex, ev.ContentIndex}, ev.Delta)
	case evReasoningTextDone:
		if s := (segment{segReasoning, ev.OutputIndex, ev.ContentIndex}); !st.had(s) {
			ch.Reasoning = st.reasoning(s, ev.Text)
		}
	case evItemAdded, evItemDone:
		it := ev.Item
		if it == nil || it.Type != "function_call" {
			break
		}
		call := st.call(ev.OutputIndex)
		d := lm.ToolCallDelta{Index: ev.OutputIndex}
		if !call.announced {
			call.announced = true
			d.ID, d.Name = it.CallID, it.Name
		}
		if call.args == 0 { // the item's arguments, when no delta brought them
			d.Arguments = it.Arguments
			call.args = len(it.Arguments)
		}
		if d.ID != "" || d.Name != "" || d.Arguments != "" {
			ch.ToolCalls = []lm.ToolCallDelta{d}
		}
	case evArgsDelta:
		call := st.call(ev.OutputIndex)
		call.args += len(ev.Delta)
		if ev.Delta != "" {
			ch.ToolCalls = []lm.ToolCallDelta{{Index: ev.OutputIndex, Arguments: ev.Delta}}
		}
	case evArgsDone:
		if call := st.call(ev.OutputIndex); call.args == 0 && ev.Arguments != "" {
			call.args = len(ev.Arguments)
			ch.ToolCalls = []lm.ToolCallDelta{{Index: ev.OutputIndex, Arguments: ev.Arguments}}
		}
	case evCompleted, evIncomplete:
		resp := ev.Response
		if resp == nil {
			resp = &respStatus{}
		}
		if resp.Error != nil || (resp.Status != "" && resp.Status != "completed" && resp.Status != "incomplete") {
			return lm.Chunk{}, c.failure(resp.Status, resp.Error, h)
		}
		status := resp.Status
		if status == "" && ev.Type == evIncomplete {
			status = "incomplete"
		}
		var reason string
		if resp.IncompleteDetails != nil {
			reason = resp.IncompleteDetails.Reason
		}
		st.finished = true
		ch.FinishReason = finishReason(status, reason, len(st.calls) > 0)
		if resp.ID != "" {
			ch.ID = resp.ID
		}
		if resp.Model != "" {
			ch.Model = resp.Model
		}
		u := lm.Usage{}
		if resp.Usage != nil {
			u = resp.Usage.toLM()
		}
		ch.Usage = &u
	case evFailed:
		var e *respError
		if ev.Response != nil {
			e = ev.Response.Error
		}
		return lm.Chunk{}, c.failure("failed", e, h)
	case evError:
		e := ev.Error
		if e == nil {
			e = &respError{Code: ev.Code, Message: ev.Message}
		}
		if *e == (respError{}) {
			return lm.Chunk{}, c.eventError(data, h) // its text is all there is
		}
		return lm.Chunk{}, c.failure("failed", e, h)
	}
	return ch, nil
}

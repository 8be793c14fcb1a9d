package lm

import (
	"context"
	"errors"
	"iter"
	"strings"
)

// Accumulator assembles streamed chunks into a Response. The zero value is
// ready to use. It is not safe for concurrent use.
type Accumulator struct {
	id, model    string
	text         strings.Builder
	reasoning    strings.Builder
	calls        []ToolCall
	callIdx      []int // Index of each entry in calls
	finishReason string
	usage        Usage
	sawUsage     bool
	cacheHit     bool
}

// Add folds one chunk in.
func (a *Accumulator) Add(c Chunk) {
	if c.ID != "" && a.id == "" {
		a.id = c.ID
	}
	if c.Model != "" && a.model == "" {
		a.model = c.Model
	}
	a.text.WriteString(c.Text)
	a.reasoning.WriteString(c.Reasoning)
	for _, d := range c.ToolCalls {
		i := -1
		for j, idx := range a.callIdx {
			if idx == d.Index {
				i = j
				break
			}
		}
		if i < 0 {
			a.calls = append(a.calls, ToolCall{})
			a.callIdx = append(a.callIdx, d.Index)
			i = len(a.calls) - 1
		}
		tc := &a.calls[i]
		if d.ID != "" {
			tc.ID = d.ID
		}
		if d.Name != "" {
			tc.Name = d.Name
		}
		tc.Arguments += d.Arguments
	}
	if c.FinishReason != "" {
		a.finishReason = c.FinishReason
	}
	if c.CacheHit {
		a.cacheHit = true
	}
	if c.Usage != nil {
		// Providers that repeat usage on every chunk send running totals;
		// the last one wins.
		a.usage = *c.Usage
		a.sawUsage = true
	}
}

// Response returns what has been accumulated so far.
func (a *Accumulator) Response() Response {
	msg := Message{Role: RoleAssistant, Content: a.text.String(), Reasoning: a.reasoning.String()}
	if len(a.calls) > 0 {
		msg.ToolCalls = append([]ToolCall(nil), a.calls...)
	}
	return Response{
		ID:       a.id,
		Model:    a.model,
		Choices:  []Choice{{Message: msg, FinishReason: a.finishReason}},
		Usage:    a.usage,
		CacheHit: a.cacheHit,
	}
}

// Collect drains a stream into a Response. If the stream fails after some
// chunks arrived, the error is a *StreamError holding them.
func Collect(seq iter.Seq2[Chunk, error]) (*Response, error) {
	var a Accumulator
	n := 0
	for c, err := range seq {
		if err != nil {
			var se *StreamError
			if n == 0 || errors.As(err, &se) {
				return nil, err
			}
			return nil, &StreamError{Partial: a.Response(), Err: err}
		}
		n++
		a.Add(c)
	}
	r := a.Response()
	return &r, nil
}

// StreamFromResponse turns a complete response into a stream of chunks of at
// most size bytes each (whole runes), then a final chunk with the finish
// reason and usage. Caches and test doubles use it to replay a response.
// size <= 0 means one chunk.
func StreamFromResponse(ctx context.Context, r *Response, size int) iter.Seq2[Chunk, error] {
	return func(yield func(Chunk, error) bool) {
		var msg Message
		var finish string
		if len(r.Choices) > 0 {
			msg, finish = r.Choices[0].Message, r.Choices[0].FinishReason
		}
		for _, part := range splitRunes(msg.Reasoning, size) {
			if err := ctx.Err(); err != nil {
				yield(Chunk{}, err)
				return
			}
			if !yield(Chunk{Reasoning: part, ID: r.ID, Model: r.Model}, nil) {
				return
			}
		}
		for _, part := range splitRunes(msg.Content, size) {
			if err := ctx.Err(); err != nil {
				yield(Chunk{}, err)
				return
			}
			if !yield(Chunk{Text: part, ID: r.ID, Model: r.Model}, nil) {
				return
			}
		}
		last := Chunk{FinishReason: finish, ID: r.ID, Model: r.Model}
		for i, tc := range msg.ToolCalls {
			last.ToolCalls = append(last.ToolCalls, ToolCallDelta{Index: i, ID: tc.ID, Name: tc.Name, Arguments: tc.Arguments})
		}
		u := r.Usage
		last.Usage = &u
		yield(last, nil)
	}
}

// splitRunes cuts s into pieces of at most size bytes without splitting a
// UTF-8 sequence (a piece may exceed size only to hold one whole rune).
func splitRunes(s string, size int) []string {
	if s == "" {
		return nil
	}
	if size <= 0 || len(s) <= size {
		return []string{s}
	}
	var out []string
	for len(s) > 0 {
		n := size
		if n >= len(s) {
			out = append(out, s)
			break
		}
		for n > 0 && !runeStart(s[n]) {
			n--
		}
		if n == 0 { // one rune longer than size
			n = size
			for n < len(s) && !runeStart(s[n]) {
				n++
			}
		}
		out = append(out, s[:n])
		s = s[n:]
	}
	return out
}

func runeStart(b byte) bool { return b&0xC0 != 0x80 }

// Package dspytest provides test doubles for godspy programs: ScriptedLM, an
// in-process LM that answers from a script, and Server, an OpenAI-compatible
// HTTP server that streams like the real thing.
package dspytest

import (
	"context"
	"errors"
	"iter"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/godspy/dspy/lm"
)

// ErrScriptExhausted is returned when a ScriptedLM has no reply left.
var ErrScriptExhausted = errors.New("dspytest: ScriptedLM has no scripted reply left")

// ScriptedLM is an lm.LM that answers from a script: a queue of replies, or a
// function of the request. It can stream its answer in chunks of a chosen
// size with chosen delays, and it records every request. Safe for concurrent
// use.
type ScriptedLM struct {
	mu       sync.Mutex
	queue    []Reply
	respond  func(*lm.Request) (Reply, error)
	requests []*lm.Request
	record   bool

	// Latency is waited (honouring ctx) before a reply or its first chunk.
	Latency time.Duration
	// ChunkSize is the size in bytes of streamed chunks (whole runes);
	// 0 means 4.
	ChunkSize int
	// ChunkDelay is waited between streamed chunks.
	ChunkDelay time.Duration
}

// Reply is one scripted answer.
type Reply struct {
	Text      string
	Reasoning string
	ToolCalls []lm.ToolCall
	Usage     lm.Usage
	// Err, if set, is returned instead of an answer.
	Err error
	// StreamErrAfter, if > 0, fails a stream with Err after this many
	// content bytes (mid-stream failure).
	StreamErrAfter int
}

// NewScriptedLM returns an LM that answers with the given texts in order,
// one per call. Usage is estimated as one token per four bytes.
func NewScriptedLM(replies ...string) *ScriptedLM {
	s := &ScriptedLM{record: true}
	for _, r := range replies {
		s.queue = append(s.queue, Reply{Text: r})
	}
	return s
}

// NewScriptedLMFunc returns an LM that answers each request with f's reply.
func NewScriptedLMFunc(f func(req *lm.Request) (Reply, error)) *ScriptedLM {
	return &ScriptedLM{respond: f, record: true}
}

// Push appends replies to the queue.
func (s *ScriptedLM) Push(replies ...Reply) *ScriptedLM {
	s.mu.Lock()
	s.queue = append(s.queue, replies...)
	s.mu.Unlock()
	return s
}

// Repeat returns a ScriptedLM that answers every request with the texts in
// turn, starting over after the last: one text answers always the same, as
// an offline stand-in for a real model does.
func Repeat(texts ...string) *ScriptedLM {
	if len(texts) == 0 {
		texts = []string{""}
	}
	var n atomic.Uint64
	return NewScriptedLMFunc(func(*lm.Request) (Reply, error) {
		i := n.Add(1) - 1
		return Reply{Text: texts[i%uint64(len(texts))]}, nil
	})
}

// DontRecord stops recording requests (benchmarks with many calls).
func (s *ScriptedLM) DontRecord() *ScriptedLM {
	s.mu.Lock()
	s.record = false
	s.requests = nil
	s.mu.Unlock()
	return s
}

// Requests returns the requests received so far.
func (s *ScriptedLM) Requests() []*lm.Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*lm.Request(nil), s.requests...)
}

// Remaining reports how many queued replies are left.
func (s *ScriptedLM) Remaining() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue)
}

func (s *ScriptedLM) next(req *lm.Request) (Reply, error) {
	s.mu.Lock()
	if s.record {
		s.requests = append(s.requests, req)
	}
	if s.respond != nil {
		f := s.respond
		s.mu.Unlock()
		return f(req)
	}
	defer s.mu.Unlock()
	if len(s.queue) == 0 {
		return Reply{}, ErrScriptExhausted
	}
	r := s.queue[0]
	s.queue = s.queue[1:]
	return r, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func usageOf(req *lm.Request, r Reply) lm.Usage {
	if !r.Usage.IsZero() {
		return r.Usage
	}
	p := 0
	for _, m := range req.Messages {
		p += len(m.Content)
	}
	u := lm.Usage{PromptTokens: (p + 3) / 4, CompletionTokens: (len(r.Text) + len(r.Reasoning) + 3) / 4}
	u.TotalTokens = u.PromptTokens + u.CompletionTokens
	return u
}

func finishReason(r Reply) string {
	if len(r.ToolCalls) > 0 {
		return "tool_calls"
	}
	return "stop"
}

// Generate implements lm.LM.
func (s *ScriptedLM) Generate(ctx context.Context, req *lm.Request) (*lm.Response, error) {
	r, err := s.next(req)
	if err != nil {
		return nil, err
	}
	if err := sleep(ctx, s.Latency); err != nil {
		return nil, err
	}
	if r.Err != nil {
		return nil, r.Err
	}
	n := max(req.N, 1)
	resp := &lm.Response{ID: "scripted", Model: "scripted", Usage: usageOf(req, r)}
	resp.Choices = make([]lm.Choice, n)
	for i := range resp.Choices {
		resp.Choices[i] = lm.Choice{
			Message:      lm.Message{Role: lm.RoleAssistant, Content: r.Text, Reasoning: r.Reasoning, ToolCalls: r.ToolCalls},
			FinishReason: finishReason(r),
		}
	}
	return resp, nil
}

// Stream implements lm.LM: the reply in ChunkSize pieces (reasoning first),
// ChunkDelay apart, then a final chunk with the finish reason and usage.
func (s *ScriptedLM) Stream(ctx context.Context, req *lm.Request) iter.Seq2[lm.Chunk, error] {
	return func(yield func(lm.Chunk, error) bool) {
		r, err := s.next(req)
		if err != nil {
			yield(lm.Chunk{}, err)
			return
		}
		if err := sleep(ctx, s.Latency); err != nil {
			yield(lm.Chunk{}, err)
			return
		}
		if r.Err != nil && r.StreamErrAfter <= 0 {
			yield(lm.Chunk{}, r.Err)
			return
		}
		size := s.ChunkSize
		if size <= 0 {
			size = 4
		}
		first := true
		send := func(c lm.Chunk) bool {
			if !first {
				if err := sleep(ctx, s.ChunkDelay); err != nil {
					yield(lm.Chunk{}, err)
					return false
				}
			}
			first = false
			return yield(c, nil)
		}
		for _, part := range Split(r.Reasoning, size) {
			if !send(lm.Chunk{Reasoning: part}) {
				return
			}
		}
		sent := 0
		for _, part := range Split(r.Text, size) {
			if r.StreamErrAfter > 0 && sent >= r.StreamErrAfter {
				yield(lm.Chunk{}, r.Err)
				return
			}
			if !send(lm.Chunk{Text: part}) {
				return
			}
			sent += len(part)
		}
		last := lm.Chunk{FinishReason: finishReason(r)}
		for i, tc := range r.ToolCalls {
			last.ToolCalls = append(last.ToolCalls, lm.ToolCallDelta{Index: i, ID: tc.ID, Name: tc.Name, Arguments: tc.Arguments})
		}
		u := usageOf(req, r)
		last.Usage = &u
		send(last)
	}
}

// Split cuts s into pieces of at most size bytes, never inside a UTF-8
// sequence.
func Split(s string, size int) []string {
	var out []string
	for len(s) > 0 {
		n := min(size, len(s))
		for n < len(s) && n > 0 && s[n]&0xC0 == 0x80 {
			n--
		}
		if n == 0 {
			n = 1
			for n < len(s) && s[n]&0xC0 == 0x80 {
				n++
			}
		}
		out = append(out, s[:n])
		s = s[n:]
	}
	return out
}

// ChatReply formats output values as a ChatAdapter reply:
// ChatReply("answer", "4") is "[[ ## answer ## ]]\n4\n\n[[ ## completed ## ]]".
// Arguments alternate field name and value.
func ChatReply(fieldsAndValues ...string) string {
	var b strings.Builder
	for i := 0; i+1 < len(fieldsAndValues); i += 2 {
		b.WriteString("[[ ## " + fieldsAndValues[i] + " ## ]]\n" + fieldsAndValues[i+1] + "\n\n")
	}
	b.WriteString("[[ ## completed ## ]]")
	return b.String()
}

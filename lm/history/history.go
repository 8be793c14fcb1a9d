// Package history keeps the last LM calls — messages, reply, usage,
// latency, cache hit — and prints them as DSPy's inspect_history does.
//
// A History is a bounded ring of Entries, safe for concurrent use. Record
// wraps one LM so that its own calls are kept (DSPy's lm.history); package
// dspy keeps every module's LM calls in the History of its settings
// (dspy.WithLMHistory, dspy.InspectHistory). Entries hold no credentials: an
// lm.Request carries none.
package history

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/godspy/dspy/lm"
)

// ErrStopped is the Err of an entry for a stream its consumer stopped
// before the end.
var ErrStopped = errors.New("history: stream stopped by its consumer")

// Entry is one LM call.
type Entry struct {
	// Time is when the call started.
	Time time.Time
	// Provider and Model name the LM, when it says (see lm.Identify); a
	// request's own Model wins.
	Provider, Model string
	// Messages are the request's messages.
	Messages []lm.Message
	// Response is the reply; for a failed stream, what arrived of it. Nil
	// when nothing arrived.
	Response *lm.Response
	// Err is the call's error, if it failed.
	Err error
	// Usage is the reply's token usage (zero on a cache hit).
	Usage lm.Usage
	// Latency is the call's duration, up to the last chunk for a stream.
	Latency time.Duration
	// CacheHit reports that the reply came from a cache.
	CacheHit bool
	// Stream reports a streamed call.
	Stream bool
}

// NewEntry describes a call of m with req, started at start, that returned
// resp and err; it copies req.Messages.
func NewEntry(m lm.LM, req *lm.Request, start time.Time, resp *lm.Response, err error, stream bool) Entry {
	e := Entry{
		Time:     start,
		Messages: slices.Clone(req.Messages),
		Response: resp,
		Err:      err,
		Latency:  time.Since(start),
		Stream:   stream,
	}
	e.Provider, e.Model = lm.Identify(m)
	if req.Model != "" {
		e.Model = req.Model
	}
	if resp != nil {
		e.Usage = resp.Usage
		e.CacheHit = resp.CacheHit
	}
	return e
}

// DefaultSize is the number of entries a History keeps when New is given
// a size <= 0.
const DefaultSize = 100

// History keeps the last entries added to it. It is safe for concurrent
// use.
type History struct {
	mu   sync.Mutex
	ring []Entry
	next int // where the next entry goes
	n    int // entries held
}

// New returns a History that keeps the last size entries (DefaultSize if
// size <= 0).
func New(size int) *History {
	if size <= 0 {
		size = DefaultSize
	}
	return &History{ring: make([]Entry, size)}
}

// Add appends e, dropping the oldest entry when the History is full.
func (h *History) Add(e Entry) {
	h.mu.Lock()
	h.ring[h.next] = e
	h.next = (h.next + 1) % len(h.ring)
	h.n = min(h.n+1, len(h.ring))
	h.mu.Unlock()
}

// Len returns the number of entries held.
func (h *History) Len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.n
}

// Cap returns the number of entries the History can hold.
func (h *History) Cap() int { return len(h.ring) }

// Last returns the last n entries (all if n <= 0 or n > Len), oldest first.
func (h *History) Last(n int) []Entry {
	h.mu.Lock()
	defer h.mu.Unlock()
	if n <= 0 || n > h.n {
		n = h.n
	}
	out := make([]Entry, n)
	for i := range out {
		out[i] = h.ring[(h.next-n+i+len(h.ring))%len(h.ring)]
	}
	return out
}

// Clear drops every entry.
func (h *History) Clear() {
	h.mu.Lock()
	clear(h.ring)
	h.next, h.n = 0, 0
	h.mu.Unlock()
}

// Inspect writes the last n entries (all if n <= 0) to w, oldest first, as
// DSPy's inspect_history prints them.
func (h *History) Inspect(w io.Writer, n int) error {
	return Print(w, h.Last(n))
}

// Print writes entries to w readably: for each, a header line (time, model,
// latency, tokens or "cache hit"), then every message as a "System
// message:" / "User message:" / ... block, then "Response:" and the reply.
func Print(w io.Writer, entries []Entry) error {
	var b strings.Builder
	for _, e := range entries {
		writeEntry(&b, e)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeEntry(b *strings.Builder, e Entry) {
	b.WriteString("\n\n\n[")
	b.WriteString(e.Time.Format(time.RFC3339))
	b.WriteString("]")
	if name := strings.Trim(e.Provider+"/"+e.Model, "/"); name != "" {
		b.WriteString(" " + name)
	}
	if e.Stream {
		b.WriteString(" · stream")
	}
	fmt.Fprintf(b, " · %s", e.Latency.Round(time.Microsecond))
	switch {
	case e.CacheHit:
		b.WriteString(" · cache hit")
	case !e.Usage.IsZero():
		fmt.Fprintf(b, " · %d prompt + %d completion tokens", e.Usage.PromptTokens, e.Usage.CompletionTokens)
	}
	b.WriteString("\n\n")
	for _, m := range e.Messages {
		b.WriteString(roleTitle(m.Role) + " message:\n\n")
		writeMessageBody(b, m)
		b.WriteString("\n\n")
	}
	b.WriteString("Response:\n\n")
	if e.Response != nil && len(e.Response.Choices) > 0 {
		writeMessageBody(b, e.Response.Choices[0].Message)
		if k := len(e.Response.Choices) - 1; k > 0 {
			fmt.Fprintf(b, "\n\n\t (and %d other completions)", k)
		}
	}
	if e.Err != nil {
		if e.Response != nil {
			b.WriteString("\n\n")
		}
		b.WriteString("Error: " + e.Err.Error())
	}
	b.WriteString("\n\n\n")
}

func roleTitle(r lm.Role) string {
	if r == "" {
		return "Unknown"
	}
	return strings.ToUpper(string(r[:1])) + string(r[1:])
}

func writeMessageBody(b *strings.Builder, m lm.Message) {
	if m.Reasoning != "" {
		b.WriteString("Reasoning: " + strings.TrimSpace(m.Reasoning) + "\n\n")
	}
	b.WriteString(strings.TrimSpace(m.Content))
	for _, tc := range m.ToolCalls {
		fmt.Fprintf(b, "\nTool call: %s(%s)", tc.Name, tc.Arguments)
		if tc.ID != "" {
			b.WriteString(" [" + tc.ID + "]")
		}
	}
	if m.ToolCallID != "" {
		b.WriteString("\n(result of tool call " + m.ToolCallID + ")")
	}
}

// Recorder is an lm.LM that adds every call of the LM it wraps to a
// History: DSPy's per-LM history. It is safe for concurrent use.
type Recorder struct {
	m lm.LM
	h *History
}

// Record returns m with its calls kept in h.
func Record(m lm.LM, h *History) *Recorder { return &Recorder{m: m, h: h} }

// History returns the History calls are kept in.
func (r *Recorder) History() *History { return r.h }

// Unwrap returns the wrapped LM.
func (r *Recorder) Unwrap() lm.LM { return r.m }

// Generate calls the wrapped LM and records the call.
func (r *Recorder) Generate(ctx context.Context, req *lm.Request) (*lm.Response, error) {
	start := time.Now()
	resp, err := r.m.Generate(ctx, req)
	r.h.Add(NewEntry(r.m, req, start, resp, err, false))
	return resp, err
}

// Stream passes the wrapped LM's chunks through and records the call when
// the stream ends, with what arrived of the reply.
func (r *Recorder) Stream(ctx context.Context, req *lm.Request) iter.Seq2[lm.Chunk, error] {
	return func(yield func(lm.Chunk, error) bool) {
		start := time.Now()
		var acc lm.Accumulator
		n := 0
		var err error = ErrStopped
		defer func() {
			var resp *lm.Response
			if n > 0 {
				a := acc.Response()
				resp = &a
			}
			r.h.Add(NewEntry(r.m, req, start, resp, err, true))
		}()
		for ch, cerr := range r.m.Stream(ctx, req) {
			if cerr == nil {
				acc.Add(ch)
				n++
			} else {
				err = cerr
			}
			if !yield(ch, cerr) {
				return
			}
		}
		if errors.Is(err, ErrStopped) {
			err = nil
		}
	}
}

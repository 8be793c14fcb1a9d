package cache

import (
	"encoding/binary"
	"errors"

	"github.com/godspy/dspy/lm"
)

// ErrCorrupt is returned by DecodeResponse for bytes that are not an
// encoded response. The cache treats such an entry as a miss.
var ErrCorrupt = errors.New("cache: corrupt entry")

// codecVersion is the first byte of an encoded response.
const codecVersion = 1

// EncodeResponse encodes r for a Store: a compact binary form of its ID,
// model, choices and usage (CacheHit is not stored).
func EncodeResponse(r *lm.Response) []byte {
	n := 16 + len(r.ID) + len(r.Model)
	for _, c := range r.Choices {
		m := c.Message
		n += 32 + len(m.Role) + len(m.Content) + len(m.Reasoning) + len(m.ToolCallID) + len(m.Name) + len(c.FinishReason)
		for _, tc := range m.ToolCalls {
			n += 12 + len(tc.ID) + len(tc.Name) + len(tc.Arguments)
		}
	}
	b := make([]byte, 0, n+5*binary.MaxVarintLen64)
	b = append(b, codecVersion)
	b = appendString(b, r.ID)
	b = appendString(b, r.Model)
	b = binary.AppendUvarint(b, uint64(len(r.Choices)))
	for _, c := range r.Choices {
		m := c.Message
		b = appendString(b, string(m.Role))
		b = appendString(b, m.Content)
		b = appendString(b, m.Reasoning)
		b = binary.AppendUvarint(b, uint64(len(m.ToolCalls)))
		for _, tc := range m.ToolCalls {
			b = appendString(b, tc.ID)
			b = appendString(b, tc.Name)
			b = appendString(b, tc.Arguments)
		}
		b = appendString(b, m.ToolCallID)
		b = appendString(b, m.Name)
		b = appendString(b, c.FinishReason)
	}
	u := r.Usage
	for _, v := range [...]int{u.PromptTokens, u.CompletionTokens, u.TotalTokens, u.CachedTokens, u.ReasoningTokens} {
		b = binary.AppendVarint(b, int64(v))
	}
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// decoder reads an encoded response; the first failure sticks.
type decoder struct {
	b   []byte
	bad bool
}

func (d *decoder) uvarint() uint64 {
	if d.bad {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.bad = true
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int {
	if d.bad {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 || int64(int(v)) != v {
		d.bad = true
		return 0
	}
	d.b = d.b[n:]
	return int(v)
}

func (d *decoder) str() string {
	n := d.uvarint()
	if d.bad {
		return ""
	}
	if n > uint64(len(d.b)) {
		d.bad = true
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

// count reads a number of items, each at least min bytes long, and rejects
// a count the remaining bytes cannot hold (no huge allocation from a
// corrupt length).
func (d *decoder) count(min int) int {
	n := d.uvarint()
	if d.bad {
		return 0
	}
	if n > uint64(len(d.b)/min) {
		d.bad = true
		return 0
	}
	return int(n)
}

// DecodeResponse decodes what EncodeResponse produced. Any other input gives
// an error wrapping ErrCorrupt, never a partial response.
func DecodeResponse(b []byte) (*lm.Response, error) {
	if len(b) == 0 || b[0] != codecVersion {
		return nil, ErrCorrupt
	}
	d := decoder{b: b[1:]}
	r := &lm.Response{ID: d.str(), Model: d.str()}
	if nc := d.count(9); nc > 0 {
		r.Choices = make([]lm.Choice, nc)
	}
	for i := range r.Choices {
		c := &r.Choices[i]
		c.Message.Role = lm.Role(d.str())
		c.Message.Content = d.str()
		c.Message.Reasoning = d.str()
		if nt := d.count(3); nt > 0 {
			c.Message.ToolCalls = make([]lm.ToolCall, nt)
		}
		for j := range c.Message.ToolCalls {
			tc := &c.Message.ToolCalls[j]
			tc.ID, tc.Name, tc.Arguments = d.str(), d.str(), d.str()
		}
		c.Message.ToolCallID = d.str()
		c.Message.Name = d.str()
		c.FinishReason = d.str()
	}
	u := &r.Usage
	for _, p := range [...]*int{&u.PromptTokens, &u.CompletionTokens, &u.TotalTokens, &u.CachedTokens, &u.ReasoningTokens} {
		*p = d.varint()
	}
	if d.bad || len(d.b) != 0 {
		return nil, ErrCorrupt
	}
	return r, nil
}

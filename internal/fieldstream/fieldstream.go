// Package fieldstream splits a streamed LM reply into per-field text as it
// arrives, for the three reply formats of the built-in adapters: Chat
// ("[[ ## field ## ]]" headers), JSON (a top-level object) and XML
// (<field>...</field>).
//
// Each parser keeps the contract of dspy.FieldParser: for every way a reply
// is cut into pieces, the Text of one field's chunks concatenates to exactly
// the value the adapter parses from the whole reply, exactly one chunk (the
// final one) has Last set, no marker text appears in a chunk, and text is
// held back only while it may still turn out to be marker text or trailing
// whitespace that parsing trims.
//
// The parsers work in place: a chunk's Text is a substring of the piece
// passed to Write whenever possible, and only text held across pieces (or
// decoded JSON escapes) is copied, into a buffer the parser reuses. A parser
// is used by one goroutine for one reply.
package fieldstream

import (
	"unicode"
	"unicode/utf8"
)

// Chunk is a piece of one output field's value. It has the fields of
// dspy.FieldChunk, so the root package converts one to the other.
type Chunk struct {
	Field string
	Text  string
	// Last marks the final chunk of the field.
	Last bool
}

// collector gathers the text one Write produces for the open field, so that
// it leaves as one chunk: a substring of the input while the text is one
// contiguous run of it, a copy once held or decoded bytes join in.
type collector struct {
	src   string
	a, b  int // src[a:b] while !inBuf
	buf   []byte
	inBuf bool
}

func (c *collector) reset(src string) {
	c.src = src
	c.a, c.b = 0, 0
	c.buf = c.buf[:0]
	c.inBuf = false
}

func (c *collector) empty() bool { return !c.inBuf && c.a == c.b }

// addRange appends src[i:j].
func (c *collector) addRange(i, j int) {
	switch {
	case i >= j:
	case c.inBuf:
		c.buf = append(c.buf, c.src[i:j]...)
	case c.a == c.b:
		c.a, c.b = i, j
	case c.b == i:
		c.b = j
	default:
		c.toBuf()
		c.buf = append(c.buf, c.src[i:j]...)
	}
}

// addBytes appends a copy of p.
func (c *collector) addBytes(p []byte) {
	if len(p) == 0 {
		return
	}
	c.toBuf()
	c.buf = append(c.buf, p...)
}

// addString appends a copy of s.
func (c *collector) addString(s string) {
	if s == "" {
		return
	}
	c.toBuf()
	c.buf = append(c.buf, s...)
}

func (c *collector) toBuf() {
	if !c.inBuf {
		c.buf = append(c.buf[:0], c.src[c.a:c.b]...)
		c.inBuf = true
	}
}

// take returns the gathered text and empties the collector.
func (c *collector) take() string {
	var t string
	if c.inBuf {
		t = string(c.buf) // the one allocation a copied chunk costs
	} else {
		t = c.src[c.a:c.b]
	}
	c.a, c.b = 0, 0
	c.buf = c.buf[:0]
	c.inBuf = false
	return t
}

// machine tracks the text a parser holds back. The held region is
// contiguous and ends at the current position: the bytes kept from earlier
// writes (hold) followed by src[hs:]. Positions are "virtual": v >= 0 is
// src[v], v < 0 is hold[len(hold)+v], which is how a rune whose first bytes
// ended the previous write is addressed. While hold is non-empty hs is 0.
type machine struct {
	src  string
	out  collector
	hold []byte
	hs   int
	// nr counts the trailing bytes of hold that begin a UTF-8 sequence the
	// previous write cut off; they are classified once the rest arrives.
	nr int
	// cont counts continuation bytes still due for a rune whose first
	// bytes ended the previous write and were committed as text.
	cont int
	scr  [2 * utf8.UTFMax]byte
}

func (m *machine) begin(src string) {
	m.src = src
	m.out.reset(src)
	m.hs = 0
}

// commit moves the held region up to v into the output.
func (m *machine) commit(v int) {
	if v <= 0 {
		if k := len(m.hold) + v; k > 0 {
			m.out.addBytes(m.hold[:k])
			m.hold = append(m.hold[:0], m.hold[k:]...)
		}
		return
	}
	if len(m.hold) > 0 {
		m.out.addBytes(m.hold)
		m.hold = m.hold[:0]
	}
	m.out.addRange(m.hs, v)
	m.hs = v
}

// discard drops the held region up to v.
func (m *machine) discard(v int) {
	if v <= 0 {
		if k := len(m.hold) + v; k > 0 {
			m.hold = append(m.hold[:0], m.hold[k:]...)
		}
		return
	}
	m.hold = m.hold[:0]
	m.hs = v
}

// end closes a write that stopped at i: the held region and the cut-off
// sequence src[i:] are kept for the next one.
func (m *machine) end(i int) {
	m.hold = append(m.hold, m.src[m.hs:]...)
	m.nr = len(m.src) - i
	m.hs = 0
}

// resume classifies the rune begun by the last write's trailing bytes. It
// returns the rune and the position in src where it ends; ok is false when
// src is still too short, in which case src has joined the held bytes.
// Bytes that turn out not to start a valid sequence are each an invalid
// rune, as strings.TrimSpace sees them; resume reports them together as one
// utf8.RuneError ending at 0.
func (m *machine) resume(src string) (r rune, j int, ok bool) {
	n := m.nr
	copy(m.scr[:], m.hold[len(m.hold)-n:])
	k := copy(m.scr[n:n+utf8.UTFMax-n], src)
	if !utf8.FullRune(m.scr[:n+k]) {
		m.hold = append(m.hold, src...)
		m.nr += len(src)
		return 0, 0, false
	}
	m.nr = 0
	r, size := utf8.DecodeRune(m.scr[:n+k])
	if size <= n {
		return utf8.RuneError, 0, true
	}
	return r, size - n, true
}

// cutText commits the cut-off sequence src[i:] if it cannot become a space
// rune, so the text that ends a write need not be copied to be held; it
// reports whether it did. The caller knows a rune here is text unless it is
// a space.
func (m *machine) cutText(i int) bool {
	t := m.src[i:]
	if mayBeSpace(t) {
		return false
	}
	m.commit(len(m.src))
	n := 2
	if t[0] >= 0xF0 {
		n = 4
	} else if t[0] >= 0xE0 {
		n = 3
	}
	m.cont = n - len(t)
	return true
}

// cutHeld is cutText for a cut-off sequence that resume found still
// incomplete, at the end of hold.
func (m *machine) cutHeld() bool {
	t := m.hold[len(m.hold)-m.nr:]
	if mayBeSpace(string(t)) {
		return false
	}
	n := 2
	if t[0] >= 0xF0 {
		n = 4
	} else if t[0] >= 0xE0 {
		n = 3
	}
	m.cont = n - m.nr
	m.nr = 0
	m.out.addBytes(m.hold)
	m.hold = m.hold[:0]
	m.hs = len(m.src)
	return true
}

// passCont commits the continuation bytes that finish the rune cutText
// committed. Each of them is text whatever follows: a continuation byte is
// either part of that rune or an invalid rune of its own.
func (m *machine) passCont() int {
	i := 0
	for m.cont > 0 && i < len(m.src) && m.src[i]&0xC0 == 0x80 {
		i++
		m.cont--
	}
	if i < len(m.src) {
		m.cont = 0
	}
	if i > 0 {
		m.commit(i)
	}
	return i
}

// spaceSeqs are the UTF-8 encodings of the non-ASCII space runes.
var spaceSeqs = func() (out []string) {
	for r := rune(utf8.RuneSelf); r <= 0x3000; r++ {
		if unicode.IsSpace(r) {
			out = append(out, string(r))
		}
	}
	return out
}()

// mayBeSpace reports whether the incomplete sequence t may still turn out
// to be a space rune.
func mayBeSpace(t string) bool {
	for _, e := range spaceSeqs {
		if len(e) > len(t) && e[:len(t)] == t {
			return true
		}
	}
	return false
}

// rest reports the cut-off bytes left at the end of the reply, which are
// invalid runes.
func (m *machine) rest() (n int) {
	m.cont = 0
	n, m.nr = m.nr, 0
	return n
}

// appendRune appends the bytes of the rune at [i, j) to dst.
func (m *machine) appendRune(dst []byte, i, j int) []byte {
	if i >= 0 {
		return append(dst, m.src[i:j]...)
	}
	dst = append(dst, m.hold[len(m.hold)+i:]...)
	return append(dst, m.src[:j]...)
}

// Byte classes for the fast paths.
const (
	clsText    = iota // ASCII, not space, not special
	clsSpace          // ASCII space other than '\n'
	clsNewline        // '\n'
	clsSpecial        // a byte the format's state machine must see ('[', '<')
	clsHigh           // >= 0x80: part of a multi-byte sequence
)

func classes(special ...byte) (t [256]uint8) {
	for c := 0; c < 256; c++ {
		switch {
		case c >= utf8.RuneSelf:
			t[c] = clsHigh
		case c == '\n':
			t[c] = clsNewline
		case c == ' ', c == '\t', c == '\r', c == '\v', c == '\f':
			t[c] = clsSpace
		}
	}
	for _, c := range special {
		t[c] = clsSpecial
	}
	return t
}

// isSpace is the whitespace strings.TrimSpace trims.
func isSpace(r rune) bool {
	if r < utf8.RuneSelf {
		return r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\v' || r == '\f'
	}
	return unicode.IsSpace(r)
}

// uniq drops empty and repeated names, keeping order.
func uniq(fields []string) []string {
	out := make([]string, 0, len(fields))
	for _, f := range fields {
		if f == "" {
			continue
		}
		dup := false
		for _, g := range out {
			if g == f {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, f)
		}
	}
	return out
}

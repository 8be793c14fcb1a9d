package fieldstream

import (
	"strings"
	"unicode/utf8"
)

var xmlCls = classes('<')

// XML parses a reply in XMLAdapter's format, scanning left to right: at
// <NAME>, for an output field NAME not yet seen, the value runs to the next
// </NAME> and is trimmed; scanning goes on after it. Without the closing tag
// the value is the trimmed rest of the reply. Other text and tags, inside a
// value or outside, are plain text.
type XML struct {
	m       machine
	fields  []string
	closes  []string // "</NAME>" per field
	found   []bool
	cur     int  // field being streamed, -1 for none
	started bool // the value has non-space text
	inTag   bool // outside a value: after a '<' that may open a field
	tag     []byte
	cpos    int // inside a value: bytes of the closing tag matched and held
	closed  bool
}

// NewXML returns a parser that streams the given output fields.
func NewXML(fields []string) *XML {
	f := uniq(fields)
	p := &XML{fields: f, closes: make([]string, len(f)), found: make([]bool, len(f)), cur: -1}
	for k, name := range f {
		p.closes[k] = "</" + name + ">"
	}
	return p
}

// Write consumes the next piece of the reply and calls emit for the text
// that became certain: at most one chunk per field.
func (p *XML) Write(text string, emit func(Chunk)) {
	if p.closed {
		return
	}
	p.m.begin(text)
	i := 0
	if p.m.cont > 0 {
		i = p.m.passCont()
	}
	if p.m.nr > 0 {
		n := p.m.nr
		r, j, ok := p.m.resume(text)
		if !ok {
			if p.cpos == 0 && p.m.cutHeld() {
				p.started = true
				p.flush(emit)
			}
			return
		}
		p.value(r, -n, j, emit)
		i = j
	}
	i = p.run(text, i, emit)
	p.m.end(i)
	p.flush(emit)
}

// Close ends the reply. A field whose closing tag never came ends with the
// trimmed rest of the reply, a partial closing tag included.
func (p *XML) Close(emit func(Chunk)) {
	if p.closed {
		return
	}
	p.closed = true
	p.m.begin("")
	if n := p.m.rest(); n > 0 && p.cur >= 0 {
		p.value(utf8.RuneError, -n, 0, emit)
	}
	if p.cur >= 0 {
		if p.cpos > 0 {
			p.started = true
			p.m.commit(0)
		}
		p.m.discard(0)
		p.endField(emit)
	}
	p.m.hold = p.m.hold[:0]
}

func (p *XML) run(s string, i int, emit func(Chunk)) int {
	for i < len(s) {
		if p.cur < 0 {
			i = p.outside(s, i)
			continue
		}
		if p.cpos == 0 {
			k := i
			for k < len(s) && xmlCls[s[k]] == clsText {
				k++
			}
			if k > i {
				p.started = true
				p.m.commit(k)
				i = k
				continue
			}
			for k < len(s) && (xmlCls[s[k]] == clsSpace || xmlCls[s[k]] == clsNewline) {
				k++
			}
			if k > i {
				if !p.started {
					p.m.discard(k)
				}
				i = k
				continue
			}
		}
		c := s[i]
		if c < utf8.RuneSelf {
			p.value(rune(c), i, i+1, emit)
			i++
			continue
		}
		if !utf8.FullRuneInString(s[i:]) {
			if p.cpos == 0 && p.m.cutText(i) {
				p.started = true
				return len(s)
			}
			return i
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		p.value(r, i, i+size, emit)
		i += size
	}
	return i
}

// outside scans for an opening tag, byte by byte: tags are compared as
// bytes and nothing outside a value is kept.
func (p *XML) outside(s string, i int) int {
	for i < len(s) {
		if !p.inTag {
			k := strings.IndexByte(s[i:], '<')
			if k < 0 {
				i = len(s)
				break
			}
			i += k + 1
			p.inTag = true
			p.tag = p.tag[:0]
			continue
		}
		c := s[i]
		i++
		switch c {
		case '>':
			p.inTag = false
			for k, f := range p.fields {
				if !p.found[k] && f == string(p.tag) {
					p.found[k] = true
					p.cur = k
					p.started = false
					p.cpos = 0
					p.m.discard(i)
					return i
				}
			}
		case '<':
			p.tag = p.tag[:0]
		default:
			p.tag = append(p.tag, c)
			if !p.prefix() {
				p.inTag = false
			}
		}
	}
	p.m.discard(i)
	return i
}

// prefix reports whether the tag read so far begins a field not yet seen.
func (p *XML) prefix() bool {
	for k, f := range p.fields {
		if !p.found[k] && len(f) >= len(p.tag) && f[:len(p.tag)] == string(p.tag) {
			return true
		}
	}
	return false
}

// value handles the rune at [i, j) inside the open field's value.
func (p *XML) value(r rune, i, j int, emit func(Chunk)) {
	if p.cpos > 0 {
		cl := p.closes[p.cur]
		if p.m.matches(cl[p.cpos:], i, j) {
			p.cpos += j - i
			if p.cpos == len(cl) {
				p.m.discard(j) // trailing space and the closing tag
				p.endField(emit)
			}
			return
		}
		// Not the closing tag after all: what was held is text.
		p.cpos = 0
		p.started = true
		p.m.commit(i)
	}
	switch {
	case r == '<':
		p.cpos = 1
	case isSpace(r):
		if !p.started {
			p.m.discard(j)
		}
	default:
		p.started = true
		p.m.commit(j)
	}
}

func (p *XML) endField(emit func(Chunk)) {
	emit(Chunk{Field: p.fields[p.cur], Text: p.m.out.take(), Last: true})
	p.cur = -1
	p.cpos = 0
	p.inTag = false
}

func (p *XML) flush(emit func(Chunk)) {
	if p.cur >= 0 && !p.m.out.empty() {
		emit(Chunk{Field: p.fields[p.cur], Text: p.m.out.take()})
	}
}

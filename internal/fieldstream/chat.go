package fieldstream

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// The header that starts a section: "[[ ## NAME ## ]]" at the start of a
// line (after whitespace), NAME made of letters, digits and '_'.
const (
	hdrOpen  = "[[ ## "
	hdrClose = " ## ]]"
)

// Chat modes: where on a line the parser is.
const (
	chatLine = iota // at a line's start, the line may still be a header
	chatBody        // in a line that is not a header
	chatRest        // in the rest of a header line
)

var chatCls = classes('[')

// Chat parses a reply in ChatAdapter's format. Lines split on "\n"; a line
// whose trimmed text starts with "[[ ## NAME ## ]]" starts section NAME, the
// trimmed rest of that line being the section's first line; a field's value
// is its first section's lines joined and trimmed. A header anywhere but at
// a line's start is text.
type Chat struct {
	m       machine
	fields  []string
	found   []bool
	cur     int  // field being streamed, -1 for none
	started bool // the value has non-space text
	mode    uint8
	ph      uint8 // header phase: 0 leading space, 1 hdrOpen, 2 name, 3 hdrClose
	hpos    int   // bytes of hdrOpen or hdrClose matched
	name    []byte
	closed  bool
}

// NewChat returns a parser that streams the given output fields.
func NewChat(fields []string) *Chat {
	f := uniq(fields)
	return &Chat{fields: f, found: make([]bool, len(f)), cur: -1}
}

// Write consumes the next piece of the reply and calls emit for the text
// that became certain: at most one chunk per field.
func (p *Chat) Write(text string, emit func(Chunk)) {
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
			if p.mode != chatLine && p.cur >= 0 && p.m.cutHeld() {
				p.started = true
				p.flush(emit)
			}
			return
		}
		p.step(r, -n, j, emit)
		i = j
	}
	i = p.run(text, i, emit)
	p.m.end(i)
	p.flush(emit)
}

// Close ends the reply: a header left incomplete is text, and the open
// field ends without its trailing whitespace.
func (p *Chat) Close(emit func(Chunk)) {
	if p.closed {
		return
	}
	p.closed = true
	p.m.begin("")
	if n := p.m.rest(); n > 0 {
		p.step(utf8.RuneError, -n, 0, emit)
	}
	if p.mode == chatLine && p.ph > 0 {
		p.notHeader(0)
		p.mode = chatBody
	}
	if p.cur >= 0 {
		p.m.discard(0)
		p.endField(emit)
	}
	p.m.hold = p.m.hold[:0]
}

func (p *Chat) run(s string, i int, emit func(Chunk)) int {
	for i < len(s) {
		if p.mode != chatLine {
			if p.cur < 0 {
				// Outside a wanted section only the next line matters.
				k := strings.IndexByte(s[i:], '\n')
				if k < 0 {
					p.m.discard(len(s))
					return len(s)
				}
				i += k
			} else {
				// Runs of plain ASCII text or space, without a call per byte.
				k := i
				for k < len(s) && (chatCls[s[k]] == clsText || chatCls[s[k]] == clsSpecial) {
					k++
				}
				if k > i {
					p.started = true
					p.m.commit(k)
					i = k
					continue
				}
				for k < len(s) && chatCls[s[k]] == clsSpace {
					k++
				}
				if k > i {
					p.space(k)
					i = k
					continue
				}
			}
		}
		c := s[i]
		if c < utf8.RuneSelf {
			p.step(rune(c), i, i+1, emit)
			i++
			continue
		}
		if !utf8.FullRuneInString(s[i:]) {
			// The rest of this rune comes with the next write.
			if p.mode != chatLine && p.cur >= 0 && p.m.cutText(i) {
				p.started = true
				return len(s)
			}
			return i
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		p.step(r, i, i+size, emit)
		i += size
	}
	return i
}

// step handles the rune at [i, j).
func (p *Chat) step(r rune, i, j int, emit func(Chunk)) {
	switch p.mode {
	case chatLine:
		p.line(r, i, j, emit)
	case chatRest:
		if r == '\n' {
			// The header line's rest is trimmed: its trailing space goes.
			p.m.discard(i)
		}
		p.body(r, j)
	default:
		p.body(r, j)
	}
}

func (p *Chat) body(r rune, j int) {
	switch {
	case r == '\n':
		p.space(j)
		p.mode = chatLine
		p.ph = 0
	case isSpace(r):
		p.space(j)
	default:
		p.text(j)
	}
}

// space holds a space rune ending at j: it is inside the value if text
// follows, trailing (and trimmed) if not.
func (p *Chat) space(j int) {
	if p.cur < 0 || !p.started {
		p.m.discard(j)
	}
}

// text commits everything held and the text rune ending at j.
func (p *Chat) text(j int) {
	if p.cur < 0 {
		p.m.discard(j)
		return
	}
	p.started = true
	p.m.commit(j)
}

// partial holds a rune of a possible header.
func (p *Chat) partial(j int) {
	if p.cur < 0 {
		p.m.discard(j)
	}
}

func (p *Chat) line(r rune, i, j int, emit func(Chunk)) {
	switch p.ph {
	case 0:
		if r == '[' {
			p.ph, p.hpos = 1, 1
			p.partial(j)
			return
		}
		if r != '\n' && isSpace(r) {
			p.space(j)
			return
		}
	case 1:
		if r == rune(hdrOpen[p.hpos]) {
			p.hpos++
			p.partial(j)
			if p.hpos == len(hdrOpen) {
				p.ph = 2
				p.name = p.name[:0]
			}
			return
		}
	case 2:
		if r == '_' || unicode.IsLetter(r) || unicode.IsNumber(r) {
			p.name = p.m.appendRune(p.name, i, j)
			p.partial(j)
			return
		}
		if r == ' ' && len(p.name) > 0 {
			p.ph, p.hpos = 3, 1
			p.partial(j)
			return
		}
	case 3:
		if r == rune(hdrClose[p.hpos]) {
			p.hpos++
			p.partial(j)
			if p.hpos == len(hdrClose) {
				p.header(j, emit)
			}
			return
		}
	}
	if p.ph > 0 {
		p.notHeader(i)
	}
	p.mode = chatBody
	p.body(r, j)
}

// notHeader turns the held start of a would-be header, which ends before
// position i, into text.
func (p *Chat) notHeader(i int) {
	endsSpace := (p.ph == 1 && p.hpos == 3) || (p.ph == 2 && len(p.name) == 0) ||
		(p.ph == 3 && (p.hpos == 1 || p.hpos == 4))
	p.ph = 0
	if p.cur < 0 {
		return
	}
	p.started = true
	if endsSpace {
		i-- // the space stays held: it may be trailing
	}
	p.m.commit(i)
}

// header starts the section whose header ends at j.
func (p *Chat) header(j int, emit func(Chunk)) {
	p.ph = 0
	p.mode = chatRest
	p.m.discard(j) // trailing space of the previous section and the header
	if p.cur >= 0 {
		p.endField(emit)
	}
	for k, f := range p.fields {
		if !p.found[k] && f == string(p.name) {
			p.found[k] = true
			p.cur = k
			p.started = false
			return
		}
	}
}

func (p *Chat) endField(emit func(Chunk)) {
	emit(Chunk{Field: p.fields[p.cur], Text: p.m.out.take(), Last: true})
	p.cur = -1
}

func (p *Chat) flush(emit func(Chunk)) {
	if p.cur >= 0 && !p.m.out.empty() {
		emit(Chunk{Field: p.fields[p.cur], Text: p.m.out.take()})
	}
}

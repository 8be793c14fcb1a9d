package fieldstream

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// XML parses a reply in XMLAdapter's format as DSPy 3's XMLAdapter does:
// the reply is the content of a root element, read by a real XML parser,
// and a field's value is the first top-level element named for it.
//
// The reply must be well-formed XML content: markup is start and end tags
// (which must nest), empty-element tags, comments, CDATA sections and
// processing instructions (a DOCTYPE or an XML declaration is an error);
// '&' starts one of the five predefined entity references or a character
// reference; '<' only starts markup, "]]>" does not occur in text, and
// every character is one XML allows. Line ends are normalized ("\r\n" and
// "\r" to "\n"; in attribute values white space to spaces), as XML
// requires. Namespaces are not processed: a prefixed name is a name.
//
// A field's element is a direct child of the root named NAME (or an
// <entry key="NAME"> element, which DSPy reads the same way); the first
// one of each field counts. Its value is its text, references decoded and
// comments and processing instructions removed; when it has child
// elements, its text before the first child followed by each child
// written back as ElementTree writes it (attributes in double quotes, an
// element without content as <x />, text escaped). The value is trimmed of
// white space at both ends. (DSPy does not trim a value that has child
// elements; a streamed value cannot wait to see whether one follows.)
//
// A reply that is not well-formed ends the open field at once (its Last
// chunk) and nothing else streams: Parse fails on such a reply.
type XML struct {
	fields []string
	found  []bool
	trees  []*Element // per field, in tree mode (ParseXML)
	tb     *treeBuilder
	emit   func(Chunk)
	err    error
	src    string
	off    int // offset of src in the reply, for errors

	st       uint8
	ret      uint8 // state a reference returns to
	depth    int   // open elements
	stack    []byte
	starts   []int // start of each open element's name in stack
	cur      int   // field being streamed, -1 for none
	brackets int   // ']' just seen in text or CDATA
	cr       bool  // the last write ended in '\r': a '\n' first is dropped
	closed   bool

	name     []byte // tag name, PI target or end tag name being read
	attrs    []byte // attribute names and values of the open start tag
	attrOff  []int  // per attribute: name start, name end, value end in attrs
	quote    byte
	sawSpace bool   // in a start tag: white space since the last attribute
	lit      string // in "<!": the literal being matched
	lpos     int
	dash     int    // '-' just seen in a comment
	piQ      bool   // '?' just seen in a processing instruction
	ref      []byte // reference text after '&'
	refVal   rune
	refDigs  int

	// Value output: the field's text, trimmed at both ends.
	out     collector
	started bool   // non-space text has been output
	pws     []byte // held white space, before src[pa:pb]
	pa, pb  int
	mixed   bool   // the value has a child element: text is escaped
	pend    []byte // a child's start tag, written when its content begins
	pending bool

	// A rune cut by the end of a write: nc carried bytes, or cn first
	// bytes of a text rune already output, cont continuation bytes due.
	carry [utf8.UTFMax]byte
	nc    int
	cn    int
	cont  int
}

// Tokenizer states.
const (
	xText      = iota // character data
	xLT               // after '<'
	xStartName        // in a start tag's name
	xInTag            // in a start tag after its name or an attribute
	xAttrName         // in an attribute name
	xAttrEq           // after an attribute name: '=' is due
	xAttrQ            // after '=': a quote is due
	xAttrVal          // in a quoted attribute value
	xEmpty            // after '/' in a start tag: '>' is due
	xEndName          // in an end tag's name
	xEndTail          // after an end tag's name: '>' is due
	xBang             // after "<!": "--" or "[CDATA[" is due
	xComment          // in a comment
	xCDATA            // in a CDATA section
	xPITarget         // in a processing instruction's target
	xPIEnd            // after the target and '?': '>' is due
	xPIBody           // in a processing instruction's content
	xRef              // in a reference, after '&'
	xErr              // not well-formed: the rest is ignored
)

// Byte classes of XML text: the specials are markup, references, "]]>",
// '>' (escaped in a written-back value), '\r' (a line end to normalize)
// and the control characters XML forbids.
var xmlCls = func() [256]uint8 {
	special := []byte{'<', '&', ']', '>', '\r', '\v', '\f'}
	for c := byte(0); c < 0x20; c++ {
		if c != '\t' && c != '\n' && c != '\r' {
			special = append(special, c)
		}
	}
	return classes(special...)
}()

// NewXML returns a parser that streams the given output fields.
func NewXML(fields []string) *XML {
	f := uniq(fields)
	return &XML{fields: f, found: make([]bool, len(f)), cur: -1}
}

// Err returns the reason the reply is not well-formed, once known; after
// Close a nil error means it was.
func (p *XML) Err() error { return p.err }

// Write consumes the next piece of the reply and calls emit for the text
// that became certain: at most one chunk per field.
func (p *XML) Write(text string, emit func(Chunk)) {
	if p.closed {
		return
	}
	p.emit = emit
	p.src = text
	p.out.reset(text)
	i := 0
	if p.cr && text != "" {
		p.cr = false
		if text[0] == '\n' {
			i = 1
		}
	}
	if p.cont > 0 {
		i = p.passCont(i)
	}
	if p.nc > 0 {
		i = p.resume(i)
	}
	if p.cont == 0 && p.nc == 0 {
		if i = p.run(i); i < len(text) {
			p.cut(i)
		}
	}
	p.endWrite()
	p.off += len(text)
	p.emit = nil
}

// Close ends the reply: an element left open, or any markup or reference
// left unfinished, makes it not well-formed.
func (p *XML) Close(emit func(Chunk)) {
	if p.closed {
		return
	}
	p.emit = emit
	if p.st != xErr {
		switch {
		case p.nc > 0 || p.cont > 0:
			p.fail("truncated UTF-8 sequence")
		case p.st != xText:
			p.fail("unclosed token")
		case p.depth > 0:
			p.fail(fmt.Sprintf("unclosed element <%s>", p.stack[p.starts[len(p.starts)-1]:]))
		}
	}
	p.closed = true
	p.emit = nil
}

// fail marks the reply as not well-formed at the current write.
func (p *XML) fail(msg string) {
	if p.st == xErr {
		return
	}
	p.st = xErr
	p.err = errors.New(msg)
	if p.cur >= 0 {
		p.pws, p.pa, p.pb = p.pws[:0], 0, 0
		p.endField()
	}
}

func (p *XML) failf(format string, args ...any) { p.fail(fmt.Sprintf(format, args...)) }

// cut handles src[i:], the first bytes of a rune the next write completes.
// In a value's text a rune that cannot be white space is output now, so the
// chunk stays a substring of the write; otherwise the bytes are carried.
func (p *XML) cut(i int) {
	t := p.src[i:]
	if p.st == xText && p.cur >= 0 && !p.pending && !mayBeSpace(t) {
		// carry keeps the output bytes, to check the rune once whole.
		p.cn = copy(p.carry[:], t)
		p.cont = runeLen(t[0]) - p.cn
		p.brackets = 0
		p.put(i, len(p.src), false)
		return
	}
	p.nc = copy(p.carry[:], t)
}

// runeLen is the length of the UTF-8 sequence led by b (2 for bytes that
// lead none: the rune is invalid either way).
func runeLen(b byte) int {
	switch {
	case b >= 0xF0:
		return 4
	case b >= 0xE0:
		return 3
	}
	return 2
}

// passCont outputs the continuation bytes of a rune cut committed, and
// checks the rune once whole.
func (p *XML) passCont(i int) int {
	s, start := p.src, i
	for p.cont > 0 && i < len(s) && s[i]&0xC0 == 0x80 {
		p.carry[p.cn] = s[i]
		p.cn++
		i++
		p.cont--
	}
	if i > start {
		p.put(start, i, false)
	}
	if p.cont > 0 && i < len(s) {
		p.cont = 0 // cut short by a byte that continues nothing
	}
	if p.cont == 0 {
		if r, size := utf8.DecodeRune(p.carry[:p.cn]); size != p.cn || !isXMLChar(r) {
			p.fail("invalid UTF-8")
		}
		p.cn = 0
	}
	return i
}

// resume completes a carried rune with the first bytes of the write.
func (p *XML) resume(i int) int {
	s := p.src
	n := p.nc
	k := copy(p.carry[n:], s[i:])
	if !utf8.FullRune(p.carry[:n+k]) {
		p.nc += k
		return len(s)
	}
	p.nc = 0
	r, size := utf8.DecodeRune(p.carry[:n+k])
	if size <= n || !isXMLChar(r) {
		p.fail("invalid character")
		return len(s)
	}
	p.step(r, string(p.carry[:size]), -1)
	return i + size - n
}

// endWrite moves the held white space out of the write, which its caller
// may reuse, and emits the text of the write.
func (p *XML) endWrite() {
	if p.pb > p.pa {
		p.pws = append(p.pws, p.src[p.pa:p.pb]...)
	}
	p.pa, p.pb = 0, 0
	if p.cur >= 0 && !p.out.empty() {
		p.emit(Chunk{Field: p.fields[p.cur], Text: p.out.take()})
	}
}

func (p *XML) run(i int) int {
	s := p.src
	for i < len(s) {
		if p.st == xText {
			k := i
			if p.cur < 0 {
				for k < len(s) && xmlCls[s[k]] <= clsNewline {
					k++
				}
				if k > i {
					p.brackets = 0
					i = k
					continue
				}
			} else {
				for k < len(s) && xmlCls[s[k]] == clsText {
					k++
				}
				if k > i {
					p.textRun(i, k, false)
					i = k
					continue
				}
				for k < len(s) && (xmlCls[s[k]] == clsSpace || xmlCls[s[k]] == clsNewline) {
					k++
				}
				if k > i {
					p.textRun(i, k, true)
					i = k
					continue
				}
			}
		} else if p.st == xErr {
			return len(s)
		}
		c := s[i]
		switch {
		case c == '\r':
			// A line end: "\r\n" and "\r" read as "\n".
			if i+1 < len(s) && s[i+1] == '\n' {
				i++
			} else if i+1 == len(s) {
				p.cr = true
			}
			i++
			p.step('\n', "\n", -1)
		case c < utf8.RuneSelf:
			if c < 0x20 && c != '\t' && c != '\n' {
				p.failf("invalid character %q at offset %d", c, p.off+i)
				return len(s)
			}
			p.step(rune(c), s[i:i+1], i)
			i++
		default:
			if !utf8.FullRuneInString(s[i:]) {
				return i
			}
			r, size := utf8.DecodeRuneInString(s[i:])
			if !isXMLChar(r) || (r == utf8.RuneError && size == 1) {
				p.failf("invalid character at offset %d", p.off+i)
				return len(s)
			}
			p.step(r, s[i:i+size], i)
			i += size
		}
	}
	return i
}

// textRun outputs src[i:j], plain text or white space, in a field's value.
func (p *XML) textRun(i, j int, space bool) {
	if p.tb != nil {
		p.tb.text(p.src[i:j])
	}
	p.brackets = 0
	if p.pending {
		p.openPending()
	}
	p.put(i, j, space)
}

// step handles the rune r, whose bytes raw are src[i:] (i < 0: not in src).
func (p *XML) step(r rune, raw string, i int) {
	switch p.st {
	case xText:
		p.char(r, raw, i)
	case xLT:
		switch {
		case r == '/':
			p.st = xEndName
			p.name = p.name[:0]
		case r == '!':
			p.st, p.lit, p.lpos = xBang, "", 0
		case r == '?':
			p.st = xPITarget
			p.name = p.name[:0]
		case isNameStart(r):
			p.st = xStartName
			p.name = append(p.name[:0], raw...)
			p.attrs, p.attrOff = p.attrs[:0], p.attrOff[:0]
		default:
			p.failf("not well-formed: %q after '<' at offset %d", r, p.off+max(i, 0))
		}
	case xStartName:
		if isNameChar(r) {
			p.name = append(p.name, raw...)
			return
		}
		p.st, p.sawSpace = xInTag, false
		p.inTag(r, raw)
	case xInTag:
		p.inTag(r, raw)
	case xAttrName:
		if isNameChar(r) {
			p.attrs = append(p.attrs, raw...)
			return
		}
		if p.endAttrName(); p.st == xErr {
			return
		}
		p.st = xAttrEq
		p.step(r, raw, i)
	case xAttrEq:
		switch {
		case r == '=':
			p.st = xAttrQ
		case !isS(r):
			p.fail("not well-formed: attribute without a value")
		}
	case xAttrQ:
		switch {
		case r == '"' || r == '\'':
			p.st, p.quote = xAttrVal, byte(r)
		case !isS(r):
			p.fail("not well-formed: unquoted attribute value")
		}
	case xAttrVal:
		switch {
		case r == rune(p.quote):
			p.attrOff = append(p.attrOff, len(p.attrs))
			p.st, p.sawSpace = xInTag, false
		case r == '<':
			p.fail("not well-formed: '<' in an attribute value")
		case r == '&':
			p.st, p.ret = xRef, xAttrVal
			p.ref = p.ref[:0]
		case r == '\t' || r == '\n':
			p.attrs = append(p.attrs, ' ')
		default:
			p.attrs = append(p.attrs, raw...)
		}
	case xEmpty:
		if r != '>' {
			p.fail("not well-formed: '/' in a start tag")
			return
		}
		p.startTag(true)
	case xEndName:
		switch {
		case len(p.name) == 0 && !isNameStart(r):
			p.fail("not well-formed: end tag without a name")
		case len(p.name) == 0 || isNameChar(r):
			p.name = append(p.name, raw...)
		default:
			p.st = xEndTail
			p.step(r, raw, i)
		}
	case xEndTail:
		switch {
		case r == '>':
			p.endTag()
		case !isS(r):
			p.fail("not well-formed: end tag")
		}
	case xBang:
		if p.lpos == 0 {
			switch r {
			case '-':
				p.lit = "--"
			case '[':
				p.lit = "[CDATA["
			default:
				p.fail("not well-formed: a declaration (such as DOCTYPE) in content")
				return
			}
		}
		if r != rune(p.lit[p.lpos]) {
			p.fail("not well-formed: " + p.lit)
			return
		}
		if p.lpos++; p.lpos == len(p.lit) {
			if p.lit == "--" {
				p.st, p.dash = xComment, 0
			} else {
				p.st, p.brackets = xCDATA, 0
			}
		}
	case xComment:
		switch {
		case p.dash >= 2 && r == '>':
			p.st, p.brackets = xText, 0
		case p.dash >= 2:
			p.fail("not well-formed: \"--\" in a comment")
		case r == '-':
			p.dash++
		default:
			p.dash = 0
		}
	case xCDATA:
		p.cdata(r, raw)
	case xPITarget:
		switch {
		case len(p.name) == 0 && isNameStart(r), len(p.name) > 0 && isNameChar(r):
			p.name = append(p.name, raw...)
		case len(p.name) == 0:
			p.fail("not well-formed: processing instruction without a target")
		case strings.EqualFold(string(p.name), "xml"):
			p.fail("XML declaration not at the start of the document")
		case r == '?':
			p.st = xPIEnd
		case isS(r):
			p.st, p.piQ = xPIBody, false
		default:
			p.fail("not well-formed: processing instruction target")
		}
	case xPIEnd:
		if r != '>' {
			p.fail("not well-formed: processing instruction")
			return
		}
		p.st, p.brackets = xText, 0
	case xPIBody:
		switch {
		case p.piQ && r == '>':
			p.st, p.brackets = xText, 0
		default:
			p.piQ = r == '?'
		}
	case xRef:
		p.refChar(r)
	}
}

// char handles a rune of character data.
func (p *XML) char(r rune, raw string, i int) {
	switch r {
	case '<':
		p.st = xLT
		p.brackets = 0
		return
	case '&':
		p.st, p.ret = xRef, xText
		p.ref = p.ref[:0]
		p.brackets = 0
		return
	case ']':
		p.brackets++
	case '>':
		if p.brackets >= 2 {
			p.fail("not well-formed: \"]]>\" in text")
			return
		}
		p.brackets = 0
	default:
		p.brackets = 0
	}
	p.data(r, raw, i)
}

// data outputs the character r of a field's value.
func (p *XML) data(r rune, raw string, i int) {
	if p.cur < 0 {
		return
	}
	if p.tb != nil {
		p.tb.text(raw)
	}
	if p.pending {
		p.openPending()
	}
	if p.mixed {
		switch r {
		case '&':
			p.putBytes("&amp;", false)
			return
		case '<':
			p.putBytes("&lt;", false)
			return
		case '>':
			p.putBytes("&gt;", false)
			return
		}
	}
	if i >= 0 {
		p.put(i, i+len(raw), isSpace(r))
	} else {
		p.putBytes(raw, isSpace(r))
	}
}

// cdata handles a rune in a CDATA section: "]]>" ends it, and the ']' are
// held until it is known they are not its start.
func (p *XML) cdata(r rune, raw string) {
	if r == ']' {
		p.brackets++
		return
	}
	n := p.brackets
	p.brackets = 0
	if r == '>' && n >= 2 {
		n -= 2
		p.st = xText
	}
	for ; n > 0; n-- {
		p.data(']', "]", -1)
	}
	if p.st == xCDATA {
		p.data(r, raw, -1)
	}
}

// refChar reads a reference: "&name;", "&#digits;" or "&#xhex;".
func (p *XML) refChar(r rune) {
	if r == ';' {
		v, ok := p.refValue()
		if !ok {
			return
		}
		p.st = p.ret
		var buf [utf8.UTFMax]byte
		raw := string(buf[:utf8.EncodeRune(buf[:], v)])
		if p.st == xAttrVal {
			p.attrs = append(p.attrs, raw...)
		} else {
			p.data(v, raw, -1)
		}
		return
	}
	switch {
	case len(p.ref) == 0 && r == '#':
		p.refVal, p.refDigs = 0, 0
	case len(p.ref) == 1 && p.ref[0] == '#' && r == 'x':
	case len(p.ref) > 0 && p.ref[0] == '#':
		base := rune(10)
		if len(p.ref) > 1 && p.ref[1] == 'x' {
			base = 16
		}
		d := rune(-1)
		if r < utf8.RuneSelf {
			d = hexVal(byte(r))
		}
		if d < 0 || d >= base {
			p.fail("not well-formed: character reference")
			return
		}
		if p.refVal <= unicode.MaxRune {
			p.refVal = p.refVal*base + d
		}
		p.refDigs++
		if len(p.ref) < 2 {
			p.ref = append(p.ref, 'd')
		}
		return
	case len(p.ref) == 0 && isNameStart(r), len(p.ref) > 0 && isNameChar(r):
		if len(p.ref) > 8 {
			p.fail("undefined entity")
			return
		}
		p.ref = utf8.AppendRune(p.ref, r)
		return
	default:
		p.fail("not well-formed: '&' must start a reference")
		return
	}
	p.ref = utf8.AppendRune(p.ref, r)
}

// refValue is the character a finished reference stands for.
func (p *XML) refValue() (rune, bool) {
	if len(p.ref) > 0 && p.ref[0] == '#' {
		if p.refDigs == 0 || !isXMLChar(p.refVal) || p.refVal > unicode.MaxRune {
			p.fail("reference to an invalid character number")
			return 0, false
		}
		return p.refVal, true
	}
	switch string(p.ref) {
	case "lt":
		return '<', true
	case "gt":
		return '>', true
	case "amp":
		return '&', true
	case "quot":
		return '"', true
	case "apos":
		return '\'', true
	case "":
		p.fail("not well-formed: '&' must start a reference")
	default:
		p.failf("undefined entity &%s;", p.ref)
	}
	return 0, false
}

// inTag handles a rune of a start tag after its name or an attribute.
func (p *XML) inTag(r rune, raw string) {
	switch {
	case isS(r):
		p.sawSpace = true
	case r == '>':
		p.startTag(false)
	case r == '/':
		p.st = xEmpty
	case p.sawSpace && isNameStart(r):
		p.st = xAttrName
		p.attrOff = append(p.attrOff, len(p.attrs))
		p.attrs = append(p.attrs, raw...)
	default:
		p.fail("not well-formed: start tag")
	}
}

// endAttrName records where the attribute's name ends and rejects a name
// the tag already has.
func (p *XML) endAttrName() {
	n := len(p.attrOff)
	start := p.attrOff[n-1]
	name := p.attrs[start:]
	for k := 0; k+3 <= n-1; k += 3 {
		if string(p.attrs[p.attrOff[k]:p.attrOff[k+1]]) == string(name) {
			p.failf("duplicate attribute %s", name)
			return
		}
	}
	p.attrOff = append(p.attrOff, len(p.attrs))
}

// attr returns the k-th attribute of the start tag.
func (p *XML) attr(k int) (name, value []byte) {
	o := p.attrOff[3*k:]
	return p.attrs[o[0]:o[1]], p.attrs[o[1]:o[2]]
}

// startTag opens the element whose start tag just ended.
func (p *XML) startTag(empty bool) {
	p.st, p.brackets = xText, 0
	p.starts = append(p.starts, len(p.stack))
	p.stack = append(p.stack, p.name...)
	p.depth++
	switch {
	case p.cur >= 0:
		p.openChild()
	case p.depth == 1:
		key := p.name
		if string(key) == "entry" {
			for k := range len(p.attrOff) / 3 {
				if n, v := p.attr(k); string(n) == "key" {
					key = v
				}
			}
		}
		for k, f := range p.fields {
			if !p.found[k] && f == string(key) {
				p.found[k] = true
				p.cur = k
				p.started, p.mixed, p.pending = false, false, false
				if p.trees != nil {
					p.tb = &treeBuilder{}
					p.trees[k] = p.tb.start(string(p.name), p.attrList())
				}
				break
			}
		}
	}
	if empty {
		p.endElement()
	}
}

// openChild starts a child element in a field's value: its start tag is
// held until it is known whether the element has content.
func (p *XML) openChild() {
	if p.pending {
		p.openPending()
	}
	p.mixed = true
	b := append(p.pend[:0], '<')
	b = append(b, p.name...)
	for k := range len(p.attrOff) / 3 {
		n, v := p.attr(k)
		b = append(b, ' ')
		b = append(b, n...)
		b = append(b, '=', '"')
		b = appendEscaped(b, string(v), true)
		b = append(b, '"')
	}
	p.pend, p.pending = b, true
	if p.tb != nil {
		p.tb.start(string(p.name), p.attrList())
	}
}

func (p *XML) attrList() []Attr {
	n := len(p.attrOff) / 3
	if n == 0 {
		return nil
	}
	out := make([]Attr, n)
	for k := range n {
		a, v := p.attr(k)
		out[k] = Attr{Name: string(a), Value: string(v)}
	}
	return out
}

// openPending writes the held start tag of an element with content.
func (p *XML) openPending() {
	p.pending = false
	p.pend = append(p.pend, '>')
	p.putBytes(string(p.pend), false)
}

// endTag closes the element whose end tag just ended.
func (p *XML) endTag() {
	p.st, p.brackets = xText, 0
	if p.depth == 0 {
		p.failf("end tag </%s> without a start tag", p.name)
		return
	}
	top := p.starts[len(p.starts)-1]
	if string(p.stack[top:]) != string(p.name) {
		p.failf("mismatched tag: </%s> closes <%s>", p.name, p.stack[top:])
		return
	}
	p.endElement()
}

func (p *XML) endElement() {
	top := p.starts[len(p.starts)-1]
	if p.cur >= 0 {
		if p.depth == 1 {
			if p.tb != nil {
				p.tb.end()
				p.tb = nil
			}
			p.pws, p.pa, p.pb = p.pws[:0], 0, 0 // trailing white space
			p.endField()
		} else {
			if p.tb != nil {
				p.tb.end()
			}
			if p.pending {
				p.pending = false
				p.pend = append(p.pend, " />"...)
				p.putBytes(string(p.pend), false)
			} else {
				b := append(p.pend[:0], "</"...)
				b = append(b, p.stack[top:]...)
				p.pend = append(b, '>')
				p.putBytes(string(p.pend), false)
			}
		}
	}
	p.stack = p.stack[:top]
	p.starts = p.starts[:len(p.starts)-1]
	p.depth--
}

func (p *XML) endField() {
	p.emit(Chunk{Field: p.fields[p.cur], Text: p.out.take(), Last: true})
	p.cur = -1
	p.pending = false
}

// put outputs src[i:j] of the value: white space is held until text follows
// it (and dropped before the first text and at the end).
func (p *XML) put(i, j int, space bool) {
	if space {
		if !p.started {
			return
		}
		switch {
		case p.pb == p.pa:
			p.pa, p.pb = i, j
		case p.pb == i:
			p.pb = j
		default:
			p.pws = append(p.pws, p.src[p.pa:p.pb]...)
			p.pa, p.pb = i, j
		}
		return
	}
	p.flushSpace()
	p.out.addRange(i, j)
}

// putBytes is put for output that is not a substring of the write.
func (p *XML) putBytes(s string, space bool) {
	if space {
		if !p.started {
			return
		}
		if p.pb > p.pa {
			p.pws = append(p.pws, p.src[p.pa:p.pb]...)
			p.pa, p.pb = 0, 0
		}
		p.pws = append(p.pws, s...)
		return
	}
	p.flushSpace()
	p.out.addString(s)
}

// flushSpace outputs the held white space, which text now follows.
func (p *XML) flushSpace() {
	p.started = true
	if len(p.pws) > 0 {
		p.out.addBytes(p.pws)
		p.pws = p.pws[:0]
	}
	if p.pb > p.pa {
		p.out.addRange(p.pa, p.pb)
		p.pa, p.pb = 0, 0
	}
}

// appendEscaped escapes s as ElementTree writes text (&, <, >) or, with
// attr, an attribute value (also ", and \n, \r, \t as references).
func appendEscaped(b []byte, s string, attr bool) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '&':
			b = append(b, "&amp;"...)
		case c == '<':
			b = append(b, "&lt;"...)
		case c == '>':
			b = append(b, "&gt;"...)
		case attr && c == '"':
			b = append(b, "&quot;"...)
		case attr && c == '\r':
			b = append(b, "&#13;"...)
		case attr && c == '\n':
			b = append(b, "&#10;"...)
		case attr && c == '\t':
			b = append(b, "&#09;"...)
		default:
			b = append(b, c)
		}
	}
	return b
}

// isS is XML's white space.
func isS(r rune) bool { return r == ' ' || r == '\t' || r == '\n' || r == '\r' }

// isXMLChar reports whether XML 1.0 allows r in a document.
func isXMLChar(r rune) bool {
	switch {
	case r < 0x20:
		return r == '\t' || r == '\n' || r == '\r'
	case r <= 0xD7FF:
		return true
	case r < 0xE000:
		return false
	case r <= 0xFFFD:
		return true
	}
	return r >= 0x10000 && r <= unicode.MaxRune
}

// isNameStart and isNameChar are XML 1.0's name characters (the ranges of
// its fifth edition).
func isNameStart(r rune) bool {
	switch {
	case r < utf8.RuneSelf:
		return r == ':' || r == '_' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z'
	case r < 0xC0:
		return false
	}
	return r <= 0xD6 || 0xD8 <= r && r <= 0xF6 || 0xF8 <= r && r <= 0x2FF ||
		0x370 <= r && r <= 0x37D || 0x37F <= r && r <= 0x1FFF || r == 0x200C || r == 0x200D ||
		0x2070 <= r && r <= 0x218F || 0x2C00 <= r && r <= 0x2FEF || 0x3001 <= r && r <= 0xD7FF ||
		0xF900 <= r && r <= 0xFDCF || 0xFDF0 <= r && r <= 0xFFFD || 0x10000 <= r && r <= 0xEFFFF
}

func isNameChar(r rune) bool {
	if r < utf8.RuneSelf {
		return r == '-' || r == '.' || '0' <= r && r <= '9' || isNameStart(r)
	}
	return r == 0xB7 || 0x300 <= r && r <= 0x36F || r == 0x203F || r == 0x2040 || isNameStart(r)
}

// Element is an element of a field's value, for ParseXML: DSPy reads list
// and dict fields from their child elements.
type Element struct {
	Name     string
	Attrs    []Attr
	Text     string // character data before the first child
	Children []*Element
	Tail     string // character data after the element, in its parent
}

// Attr is an attribute, its value normalized.
type Attr struct{ Name, Value string }

// treeBuilder builds a field's element tree from the parser's events.
type treeBuilder struct {
	stack []*Element
	last  *Element // the child closed last, whose tail is being read
	buf   []byte
}

func (t *treeBuilder) text(s string) { t.buf = append(t.buf, s...) }

func (t *treeBuilder) flush() {
	if len(t.buf) == 0 {
		return
	}
	if t.last != nil {
		t.last.Tail += string(t.buf)
	} else if n := len(t.stack); n > 0 {
		t.stack[n-1].Text += string(t.buf)
	}
	t.buf = t.buf[:0]
}

func (t *treeBuilder) start(name string, attrs []Attr) *Element {
	t.flush()
	e := &Element{Name: name, Attrs: attrs}
	if n := len(t.stack); n > 0 {
		t.stack[n-1].Children = append(t.stack[n-1].Children, e)
	}
	t.stack = append(t.stack, e)
	t.last = nil
	return e
}

func (t *treeBuilder) end() {
	t.flush()
	t.last = t.stack[len(t.stack)-1]
	t.stack = t.stack[:len(t.stack)-1]
}

// XMLField is one field of a reply read by ParseXML.
type XMLField struct {
	Found bool
	// Value is the field's value as the streaming parser gives it.
	Value string
	// Elem is the field's element, for reading structured values.
	Elem *Element
}

// ParseXML reads a whole reply as XML streams it, and also returns each
// field's element. The error reports a reply that is not well-formed.
func ParseXML(reply string, fields []string) ([]XMLField, error) {
	p := NewXML(fields)
	p.trees = make([]*Element, len(p.fields))
	out := make([]XMLField, len(fields))
	idx := make(map[string]int, len(fields))
	for k, f := range fields {
		if _, dup := idx[f]; !dup {
			idx[f] = k
		}
	}
	vals := make([]strings.Builder, len(p.fields))
	emit := func(c Chunk) {
		for k, f := range p.fields {
			if f == c.Field {
				vals[k].WriteString(c.Text)
			}
		}
	}
	p.Write(reply, emit)
	p.Close(emit)
	if p.err != nil {
		return nil, p.err
	}
	for k, f := range p.fields {
		if p.found[k] {
			out[idx[f]] = XMLField{Found: true, Value: vals[k].String(), Elem: p.trees[k]}
		}
	}
	return out, nil
}

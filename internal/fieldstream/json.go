package fieldstream

import (
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// JSON states, outside string contents.
const (
	jsonPre   = iota // before the object's '{' (prose, a ``` fence)
	jsonOpen         // after a '{' that may start the object
	jsonKey          // expecting a key or the end of the object
	jsonInKey        // in a key
	jsonColon        // after a key
	jsonValue        // expecting a value
	jsonStr          // in a string value
	jsonRaw          // in any other value
	jsonAfter        // after a value
	jsonDone         // after the object
)

// Where decoded string text goes.
const (
	toSkip = iota
	toKey
	toValue
)

// plainJSON marks string bytes that stand for themselves: printable ASCII
// other than '"' and '\'.
var plainJSON = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// JSON parses a reply in JSONAdapter's format: a JSON object, possibly after
// prose or inside a ``` fence, starting at the first '{' that is followed by
// a key (or by '}'). A top-level
// key that names an output field streams its value: a string's decoded text
// (as encoding/json decodes it, invalid UTF-8 and lone surrogates becoming
// U+FFFD), any other value's JSON text without the surrounding space. The
// first of duplicate keys wins. Malformed JSON is streamed as well as it
// goes; every field that started still gets its Last chunk.
type JSON struct {
	out    collector
	fields []string
	found  []bool
	cur    int // field being streamed, -1 for none
	st     uint8
	dst    uint8 // where the current string's text goes
	key    []byte

	// String escapes: esc is 1 after '\', 2 in the hex digits of \u.
	esc  uint8
	hexN int
	hexV rune
	// A surrogate from \u waiting to see whether the next \u pairs with it;
	// spos counts the bytes of that next "\uXXXX" seen so far.
	surr rune
	spos int
	sv   rune

	// The start of a UTF-8 sequence the previous write cut off, in a string.
	carry [utf8.UTFMax]byte
	nc    int
	scr   [2 * utf8.UTFMax]byte

	// Non-string values: nesting depth, in a string, after a backslash.
	depth  int
	rawStr bool
	rawEsc bool

	closed bool
}

// NewJSON returns a parser that streams the given output fields.
func NewJSON(fields []string) *JSON {
	f := uniq(fields)
	return &JSON{fields: f, found: make([]bool, len(f)), cur: -1}
}

// Write consumes the next piece of the reply and calls emit for the text
// that became certain: at most one chunk per field.
func (p *JSON) Write(text string, emit func(Chunk)) {
	if p.closed {
		return
	}
	p.out.reset(text)
	i := 0
	if p.nc > 0 {
		var ok bool
		if i, ok = p.resume(text); !ok {
			return
		}
	}
	for i < len(text) {
		i = p.step(text, i, emit)
	}
	if p.cur >= 0 && !p.out.empty() {
		emit(Chunk{Field: p.fields[p.cur], Text: p.out.take()})
	}
}

// Close ends the reply; a value cut off is streamed as far as it came.
func (p *JSON) Close(emit func(Chunk)) {
	if p.closed {
		return
	}
	p.closed = true
	p.out.reset("")
	if p.cur < 0 {
		return
	}
	if p.st == jsonStr {
		if p.surr != 0 {
			p.rune(utf8.RuneError)
		}
		for ; p.nc > 0; p.nc-- {
			p.rune(utf8.RuneError)
		}
	}
	p.endField(emit)
}

// resume completes a UTF-8 sequence cut off at the end of the last write.
func (p *JSON) resume(s string) (int, bool) {
	n := p.nc
	copy(p.scr[:], p.carry[:n])
	k := copy(p.scr[n:n+utf8.UTFMax-n], s)
	if !utf8.FullRune(p.scr[:n+k]) {
		p.nc += copy(p.carry[n:], s)
		return len(s), false
	}
	p.nc = 0
	_, size := utf8.DecodeRune(p.scr[:n+k])
	if size <= n {
		// Not a valid sequence: each byte is an invalid rune.
		for ; n > 0; n-- {
			p.rune(utf8.RuneError)
		}
		return 0, true
	}
	if p.dst == toValue {
		p.out.addBytes(p.scr[:size])
	} else if p.dst == toKey {
		p.key = append(p.key, p.scr[:size]...)
	}
	return size - n, true
}

func isJSONSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// step advances through s from i and returns the new position.
func (p *JSON) step(s string, i int, emit func(Chunk)) int {
	switch p.st {
	case jsonPre:
		k := strings.IndexByte(s[i:], '{')
		if k < 0 {
			return len(s)
		}
		p.st = jsonOpen
		return i + k + 1
	case jsonOpen:
		// The object is the first '{' followed by a key or '}': a brace in
		// prose before it ("use {x}") is skipped, as Parse skips it.
		switch c := s[i]; {
		case isJSONSpace(c):
			return i + 1
		case c == '"' || c == '}':
			p.st = jsonKey
		default:
			p.st = jsonPre
		}
		return i
	case jsonKey, jsonColon, jsonValue, jsonAfter:
		c := s[i]
		if isJSONSpace(c) {
			return i + 1
		}
		switch p.st {
		case jsonKey:
			switch c {
			case '"':
				p.st, p.dst = jsonInKey, toKey
				p.key = p.key[:0]
			case '}':
				p.st = jsonDone
			}
			// Anything else is malformed; skipping it is as good as any.
			return i + 1
		case jsonColon:
			p.st = jsonValue
			if c == ':' {
				return i + 1
			}
			return i
		case jsonAfter:
			switch c {
			case ',':
				p.st = jsonKey
			case '}':
				p.st = jsonDone
			}
			return i + 1
		}
		// A value starts.
		want := -1
		for k, f := range p.fields {
			if !p.found[k] && f == string(p.key) {
				want = k
				break
			}
		}
		if want >= 0 {
			p.found[want] = true
			p.cur = want
		}
		if c == '"' {
			p.st = jsonStr
			p.dst = toSkip
			if want >= 0 {
				p.dst = toValue
			}
			return i + 1
		}
		p.st = jsonRaw
		p.depth, p.rawStr, p.rawEsc = 0, false, false
		return i
	case jsonInKey, jsonStr:
		return p.str(s, i, emit)
	case jsonRaw:
		return p.raw(s, i, emit)
	}
	return len(s)
}

// str decodes string contents from i up to the closing quote or the end of s.
func (p *JSON) str(s string, i int, emit func(Chunk)) int {
	for i < len(s) {
		if p.esc != 0 || p.surr != 0 {
			if p.escape(s[i]) {
				i++
			}
			continue
		}
		k := i
		for k < len(s) && plainJSON[s[k]] {
			k++
		}
		if k > i {
			p.plain(i, k)
			i = k
			continue
		}
		c := s[i]
		switch {
		case c == '"':
			p.endString(emit)
			return i + 1
		case c == '\\':
			p.esc = 1
			i++
		case c < utf8.RuneSelf: // a control character: invalid JSON, kept
			p.plain(i, i+1)
			i++
		case p.dst == toSkip:
			i++
		case !utf8.FullRuneInString(s[i:]):
			p.nc = copy(p.carry[:], s[i:])
			return len(s)
		default:
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				p.rune(utf8.RuneError)
			} else {
				p.plain(i, i+size)
			}
			i += size
		}
	}
	return i
}

// plain passes src[i:j] through to the string's destination.
func (p *JSON) plain(i, j int) {
	switch p.dst {
	case toValue:
		p.out.addRange(i, j)
	case toKey:
		p.key = append(p.key, p.out.src[i:j]...)
	}
}

// rune sends a decoded rune to the string's destination.
func (p *JSON) rune(r rune) {
	if p.dst == toSkip {
		return
	}
	var b [utf8.UTFMax]byte
	n := utf8.EncodeRune(b[:], r)
	if p.dst == toValue {
		p.out.addBytes(b[:n])
	} else {
		p.key = append(p.key, b[:n]...)
	}
}

// escape consumes one byte of an escape sequence and reports whether it did:
// a byte that ends a failed surrogate pair is seen again as ordinary text.
func (p *JSON) escape(c byte) bool {
	if p.surr != 0 {
		switch {
		case p.spos == 0 && c == '\\', p.spos == 1 && c == 'u':
			p.spos++
			return true
		case p.spos >= 2 && hexVal(c) >= 0:
			p.sv = p.sv<<4 | hexVal(c)
			p.spos++
			if p.spos < 6 {
				return true
			}
			hi, lo := p.surr, p.sv
			p.surr = 0
			if r := utf16.DecodeRune(hi, lo); r != utf8.RuneError {
				p.rune(r)
				return true
			}
			p.rune(utf8.RuneError)
			p.unicode(lo)
			return true
		}
		// No pair: the surrogate alone is U+FFFD (as encoding/json has it).
		p.rune(utf8.RuneError)
		p.surr = 0
		if p.spos == 1 {
			p.esc = 1 // the '\' already read starts an ordinary escape
		}
		return false
	}
	if p.esc == 2 {
		v := hexVal(c)
		if v < 0 { // malformed \u: drop it
			p.esc = 0
			return false
		}
		p.hexV = p.hexV<<4 | v
		if p.hexN++; p.hexN == 4 {
			p.esc = 0
			p.unicode(p.hexV)
		}
		return true
	}
	p.esc = 0
	var r rune
	switch c {
	case 'b':
		r = '\b'
	case 'f':
		r = '\f'
	case 'n':
		r = '\n'
	case 'r':
		r = '\r'
	case 't':
		r = '\t'
	case 'u':
		p.esc, p.hexN, p.hexV = 2, 0, 0
		return true
	default: // '"', '\\', '/', and malformed escapes keep the byte
		r = rune(c)
		if c >= utf8.RuneSelf {
			return false
		}
	}
	p.rune(r)
	return true
}

// unicode handles the code point of a complete \uXXXX.
func (p *JSON) unicode(v rune) {
	if utf16.IsSurrogate(v) {
		p.surr, p.spos, p.sv = v, 0, 0
		return
	}
	p.rune(v)
}

func hexVal(c byte) rune {
	switch {
	case '0' <= c && c <= '9':
		return rune(c - '0')
	case 'a' <= c && c <= 'f':
		return rune(c - 'a' + 10)
	case 'A' <= c && c <= 'F':
		return rune(c - 'A' + 10)
	}
	return -1
}

func (p *JSON) endString(emit func(Chunk)) {
	if p.st == jsonInKey {
		p.st = jsonColon
		return
	}
	p.st = jsonAfter
	if p.dst == toValue {
		p.endField(emit)
	}
}

// raw passes a non-string value through as JSON text, up to its end.
func (p *JSON) raw(s string, i int, emit func(Chunk)) int {
	start := i
	for ; i < len(s); i++ {
		c := s[i]
		if p.rawStr {
			switch {
			case p.rawEsc:
				p.rawEsc = false
			case c == '\\':
				p.rawEsc = true
			case c == '"':
				p.rawStr = false
			}
			continue
		}
		switch c {
		case '"':
			p.rawStr = true
		case '{', '[':
			p.depth++
		case '}', ']':
			if p.depth == 0 {
				return p.endRaw(start, i, emit)
			}
			if p.depth--; p.depth == 0 {
				return p.endRaw(start, i+1, emit)
			}
		case ' ', '\t', '\n', '\r', ',':
			if p.depth == 0 {
				return p.endRaw(start, i, emit)
			}
		}
	}
	if p.cur >= 0 {
		p.out.addRange(start, i)
	}
	return i
}

func (p *JSON) endRaw(start, i int, emit func(Chunk)) int {
	p.st = jsonAfter
	if p.cur >= 0 {
		p.out.addRange(start, i)
		p.endField(emit)
	}
	return i
}

func (p *JSON) endField(emit func(Chunk)) {
	emit(Chunk{Field: p.fields[p.cur], Text: p.out.take(), Last: true})
	p.cur = -1
}

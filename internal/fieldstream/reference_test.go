package fieldstream

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The reference parsers below read a whole reply the way the adapters'
// Parse does, written as literally as possible from the format's definition
// and sharing no code with the incremental parsers. They return the value of
// each output field found (its first occurrence).

var chatHeader = regexp.MustCompile(`^\[\[ ## ([\p{L}\p{N}_]+) ## \]\]`)

// refChat: lines split on "\n"; a line whose trimmed text starts with a
// header starts a section, the trimmed rest of the line being its first
// line; a value is its section's lines joined and trimmed.
func refChat(reply string, fields []string) map[string]string {
	want := map[string]bool{}
	for _, f := range fields {
		want[f] = true
	}
	vals := map[string]string{}
	var cur string
	var lines []string
	done := func() {
		if cur != "" && want[cur] {
			if _, ok := vals[cur]; !ok {
				vals[cur] = strings.TrimSpace(strings.Join(lines, "\n"))
			}
		}
	}
	for _, line := range strings.Split(reply, "\n") {
		t := strings.TrimSpace(line)
		if m := chatHeader.FindStringSubmatch(t); m != nil {
			done()
			cur, lines = m[1], nil
			if rest := strings.TrimSpace(t[len(m[0]):]); rest != "" {
				lines = append(lines, rest)
			}
			continue
		}
		if cur != "" {
			lines = append(lines, line)
		}
	}
	done()
	return vals
}

// refXML reads the reply as DSPy 3's XMLAdapter does (ElementTree on the
// reply wrapped in a root element), written from the XML specification:
// line ends normalized first, then a recursive descent over elements,
// references, CDATA, comments and processing instructions. A field's value
// is the first top-level element named for it (or <entry key="NAME">):
// its text trimmed, or with child elements its text and the children
// written back as ElementTree writes them, trimmed. A reply that is not
// well-formed is an error.
func refXML(reply string, fields []string) (map[string]string, error) {
	if !utf8.ValidString(reply) {
		return nil, errors.New("invalid UTF-8")
	}
	s := strings.ReplaceAll(strings.ReplaceAll(reply, "\r\n", "\n"), "\r", "\n")
	for _, r := range s {
		if !(r == '\t' || r == '\n' || r >= 0x20 && r <= 0xD7FF || r >= 0xE000 && r <= 0xFFFD || r >= 0x10000) {
			return nil, fmt.Errorf("invalid character %U", r)
		}
	}
	x := &refXMLParser{s: s}
	root := &refNode{}
	if err := x.content(root); err != nil {
		return nil, err
	}
	if x.i < len(s) {
		return nil, errors.New("end tag without a start tag")
	}
	want := map[string]bool{}
	for _, f := range fields {
		want[f] = true
	}
	vals := map[string]string{}
	for _, c := range root.children {
		key := c.name
		if key == "entry" {
			for _, a := range c.attrs {
				if a[0] == "key" {
					key = a[1]
				}
			}
		}
		if _, seen := vals[key]; seen || !want[key] {
			continue
		}
		v := c.text
		for _, g := range c.children {
			v += g.serialize()
		}
		vals[key] = strings.TrimSpace(v)
	}
	return vals, nil
}

type refNode struct {
	name       string
	attrs      [][2]string
	text, tail string
	children   []*refNode
}

// serialize writes n as ElementTree's tostring does, tail included.
func (n *refNode) serialize() string {
	esc := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")
	escAttr := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "\r", "&#13;", "\n", "&#10;", "\t", "&#09;")
	var b strings.Builder
	b.WriteString("<" + n.name)
	for _, a := range n.attrs {
		b.WriteString(" " + a[0] + `="` + escAttr.Replace(a[1]) + `"`)
	}
	if n.text == "" && len(n.children) == 0 {
		b.WriteString(" />")
	} else {
		b.WriteString(">" + esc.Replace(n.text))
		for _, c := range n.children {
			b.WriteString(c.serialize())
		}
		b.WriteString("</" + n.name + ">")
	}
	b.WriteString(esc.Replace(n.tail))
	return b.String()
}

type refXMLParser struct {
	s string
	i int
}

var (
	// XML 1.0 (fifth edition) productions NameStartChar and NameChar.
	refName = regexp.MustCompile(`^[:A-Z_a-z\x{C0}-\x{D6}\x{D8}-\x{F6}\x{F8}-\x{2FF}\x{370}-\x{37D}\x{37F}-\x{1FFF}\x{200C}\x{200D}\x{2070}-\x{218F}\x{2C00}-\x{2FEF}\x{3001}-\x{D7FF}\x{F900}-\x{FDCF}\x{FDF0}-\x{FFFD}\x{10000}-\x{EFFFF}]` +
		`[-.0-9\x{B7}\x{300}-\x{36F}\x{203F}\x{2040}:A-Z_a-z\x{C0}-\x{D6}\x{D8}-\x{F6}\x{F8}-\x{2FF}\x{370}-\x{37D}\x{37F}-\x{1FFF}\x{200C}\x{200D}\x{2070}-\x{218F}\x{2C00}-\x{2FEF}\x{3001}-\x{D7FF}\x{F900}-\x{FDCF}\x{FDF0}-\x{FFFD}\x{10000}-\x{EFFFF}]*`)
	refEntity = regexp.MustCompile(`^&(?:#([0-9]+)|#x([0-9a-fA-F]+)|([^;]*));`)
)

// content reads n's content up to its end tag (or the reply's end for the
// root), appending text to n.text or to the last child's tail.
func (x *refXMLParser) content(n *refNode) error {
	addText := func(t string) {
		if len(n.children) > 0 {
			n.children[len(n.children)-1].tail += t
		} else {
			n.text += t
		}
	}
	for x.i < len(x.s) {
		rest := x.s[x.i:]
		switch {
		case strings.HasPrefix(rest, "</"):
			if n.name == "" {
				return errors.New("end tag at the top level")
			}
			m := refName.FindString(rest[2:])
			if m != n.name {
				return fmt.Errorf("mismatched tag %q for <%s>", m, n.name)
			}
			x.i += 2 + len(m)
			x.i += len(rest[2+len(m):]) - len(strings.TrimLeft(rest[2+len(m):], " \t\n"))
			if !strings.HasPrefix(x.s[x.i:], ">") {
				return errors.New("bad end tag")
			}
			x.i++
			return nil
		case strings.HasPrefix(rest, "<!--"):
			end := strings.Index(rest[4:], "--")
			if end < 0 || !strings.HasPrefix(rest[4+end:], "-->") {
				return errors.New("bad comment")
			}
			x.i += 4 + end + 3
		case strings.HasPrefix(rest, "<![CDATA["):
			end := strings.Index(rest, "]]>")
			if end < 0 {
				return errors.New("unclosed CDATA")
			}
			addText(rest[9:end])
			x.i += end + 3
		case strings.HasPrefix(rest, "<?"):
			m := refName.FindString(rest[2:])
			after := rest[2+len(m):]
			if m == "" || strings.EqualFold(m, "xml") || !(strings.HasPrefix(after, "?>") || after != "" && strings.ContainsRune(" \t\n", rune(after[0]))) {
				return errors.New("bad processing instruction")
			}
			end := strings.Index(after, "?>")
			if end < 0 {
				return errors.New("unclosed processing instruction")
			}
			x.i += 2 + len(m) + end + 2
		case strings.HasPrefix(rest, "<"):
			c, err := x.element()
			if err != nil {
				return err
			}
			n.children = append(n.children, c)
		case strings.HasPrefix(rest, "&"):
			t, err := x.reference()
			if err != nil {
				return err
			}
			addText(t)
		default:
			k := strings.IndexAny(rest, "<&")
			if k < 0 {
				k = len(rest)
			}
			if strings.Contains(rest[:k], "]]>") {
				return errors.New("]]> in text")
			}
			addText(rest[:k])
			x.i += k
		}
	}
	if n.name != "" {
		return fmt.Errorf("unclosed <%s>", n.name)
	}
	return nil
}

func (x *refXMLParser) reference() (string, error) {
	m := refEntity.FindStringSubmatch(x.s[x.i:])
	if m == nil {
		return "", errors.New("bad reference")
	}
	x.i += len(m[0])
	var v uint64
	var err error
	switch {
	case m[1] != "":
		v, err = strconv.ParseUint(m[1], 10, 32)
	case m[2] != "":
		v, err = strconv.ParseUint(m[2], 16, 32)
	default:
		t, ok := map[string]string{"lt": "<", "gt": ">", "amp": "&", "quot": `"`, "apos": "'"}[m[3]]
		if !ok {
			return "", fmt.Errorf("undefined entity %q", m[3])
		}
		return t, nil
	}
	r := rune(v)
	if err != nil || !(r == '\t' || r == '\n' || r == '\r' || r >= 0x20 && r <= 0xD7FF || r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF) {
		return "", errors.New("reference to an invalid character")
	}
	return string(r), nil
}

// element reads a start tag, the content and the end tag.
func (x *refXMLParser) element() (*refNode, error) {
	x.i++
	name := refName.FindString(x.s[x.i:])
	if name == "" {
		return nil, errors.New("bad tag name")
	}
	x.i += len(name)
	n := &refNode{name: name}
	for {
		ws := len(x.s[x.i:]) - len(strings.TrimLeft(x.s[x.i:], " \t\n"))
		x.i += ws
		rest := x.s[x.i:]
		switch {
		case strings.HasPrefix(rest, "/>"):
			x.i += 2
			return n, nil
		case strings.HasPrefix(rest, ">"):
			x.i++
			return n, x.content(n)
		}
		a := refName.FindString(rest)
		if a == "" || ws == 0 {
			return nil, errors.New("bad start tag")
		}
		for _, b := range n.attrs {
			if b[0] == a {
				return nil, errors.New("duplicate attribute")
			}
		}
		x.i += len(a)
		x.i += len(x.s[x.i:]) - len(strings.TrimLeft(x.s[x.i:], " \t\n"))
		if !strings.HasPrefix(x.s[x.i:], "=") {
			return nil, errors.New("attribute without a value")
		}
		x.i++
		x.i += len(x.s[x.i:]) - len(strings.TrimLeft(x.s[x.i:], " \t\n"))
		if x.i >= len(x.s) || (x.s[x.i] != '"' && x.s[x.i] != '\'') {
			return nil, errors.New("unquoted attribute")
		}
		q := x.s[x.i]
		x.i++
		var v strings.Builder
		for {
			if x.i >= len(x.s) {
				return nil, errors.New("unclosed attribute")
			}
			c := x.s[x.i]
			switch {
			case c == q:
				x.i++
			case c == '<':
				return nil, errors.New("< in attribute")
			case c == '&':
				t, err := x.reference()
				if err != nil {
					return nil, err
				}
				v.WriteString(t)
				continue
			case c == '\t' || c == '\n':
				v.WriteByte(' ')
				x.i++
				continue
			default:
				v.WriteByte(c)
				x.i++
				continue
			}
			break
		}
		n.attrs = append(n.attrs, [2]string{a, v.String()})
	}
}

// objectStart matches the start of a JSON object: a brace and a key or '}'.
var objectStart = regexp.MustCompile(`\{[ \t\r\n]*["}]`)

// refJSON: the object starting at the first '{' followed by a key or '}',
// decoded by encoding/json; a string value is its decoded text, any other
// value its JSON text. The first of duplicate keys wins. A reply that is not
// such an object is an error.
func refJSON(reply string, fields []string) (map[string]string, error) {
	loc := objectStart.FindStringIndex(reply)
	if loc == nil {
		return nil, errors.New("no object")
	}
	k := loc[0]
	want := map[string]bool{}
	for _, f := range fields {
		want[f] = true
	}
	dec := json.NewDecoder(strings.NewReader(reply[k:]))
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	vals := map[string]string{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, ok := tok.(string)
		if !ok {
			return nil, errors.New("key is not a string")
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, err
		}
		if _, seen := vals[key]; seen || !want[key] {
			continue
		}
		if bytes.HasPrefix(raw, []byte(`"`)) {
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return nil, err
			}
			vals[key] = s
		} else {
			vals[key] = string(raw)
		}
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return nil, err
	}
	return vals, nil
}

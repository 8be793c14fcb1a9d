package fieldstream

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf16"
	"unicode/utf8"
)

var propFields = []string{"reasoning", "answer", "x_1"}

// Replies per adapter, and random multi-cuts per reply; every reply is also
// cut at every byte offset.
const (
	propReplies = 500
	propCuts    = 50
)

// genChat writes a ChatAdapter reply: sections in random order, some
// repeated, some unknown, headers with leading space or text on the same
// line, the completed marker present, cut off or missing.
func genChat(r *rand.Rand) string {
	var b strings.Builder
	if r.IntN(3) == 0 {
		b.WriteString(genText(r, 4) + "\n")
	}
	names := []string{"reasoning", "answer", "x_1", "other", "completed", "answer", "日本"}
	for range r.IntN(5) {
		b.WriteString(pick(r, "", "", "\n", "  ", "\u3000", "\t"))
		b.WriteString("[[ ## " + names[r.IntN(len(names))] + " ## ]]")
		b.WriteString(pick(r, "\n", "\n\n", " ", "", "  \n", "\r\n", "]", "\n  "))
		v := genText(r, 12)
		if r.IntN(4) == 0 {
			// A value that is only space, or empty.
			v = pick(r, "", " ", "\n", " \n\t ")
		}
		b.WriteString(v)
		b.WriteString(pick(r, "\n\n", "\n", "  \n\n", "", " "))
	}
	switch r.IntN(4) {
	case 0:
		b.WriteString("[[ ## completed ## ]]")
	case 1:
		b.WriteString("[[ ## completed ## ]]\n" + genText(r, 3))
	case 2:
		b.WriteString(pick(r, "[[ ## compl", "[[", "[[ ## answer ## ]", "[[ ## ", "[[ ## a ##"))
	}
	return b.String()
}

// genXML writes an XMLAdapter reply: top-level elements for fields (some
// repeated, some unknown, one as <entry key=...>) between prose, values
// with references, CDATA, comments, processing instructions, line ends to
// normalize and child elements (empty ones, attributes, the field's own
// name nested); one reply in six is made malformed in some way.
func genXML(r *rand.Rand) string {
	var b strings.Builder
	names := []string{"reasoning", "answer", "x_1", "other", "answer", "b"}
	for range r.IntN(5) {
		if r.IntN(3) == 0 {
			b.WriteString(genXMLText(r, 3))
		}
		n := names[r.IntN(len(names))]
		switch r.IntN(8) {
		case 0:
			b.WriteString(`<entry key="` + n + `">` + genXMLValue(r, 0) + "</entry>")
		case 1:
			b.WriteString("<" + n + pick(r, "/>", " />", ` k="v"/>`))
		default:
			b.WriteString("<" + n + pick(r, ">", " >", ` id="1">`, "\n>") + genXMLValue(r, 0) + "</" + n + pick(r, ">", " >"))
		}
		b.WriteString(pick(r, "", "\n", " ", "\r\n"))
	}
	s := b.String()
	if r.IntN(6) == 0 {
		bad := pick(r, "&", "<", "&nbsp;", "]]>", "</x>", "<a b>", "&#0;", "\x01", "<!DOCTYPE x>",
			`<?xml version="1.0"?>`, "<answer>", "<a x='1' x='2'/>", "<!-- -- -->", "\xff", "<a", "&amp")
		k := r.IntN(len(s) + 1)
		for k > 0 && k < len(s) && !utf8.RuneStart(s[k]) {
			k--
		}
		s = s[:k] + bad + s[k:]
	}
	return s
}

// genXMLText returns well-formed character data: words, white space of
// several kinds, references of every form, '>' and ']' on their own.
func genXMLText(r *rand.Rand, max int) string {
	var b strings.Builder
	for range r.IntN(max + 1) {
		b.WriteString(pick(r, "hello", "world", "To get to the other side", "42", "日本語", "😀", "é",
			" ", "  ", "\t", "\n", "\r\n", "\r", "\u00a0", "\u3000", "\u2028", "\u0085",
			"&amp;", "&lt;", "&gt;", "&quot;", "&apos;", "&#65;", "&#x1F600;", "&#32;", "&#10;", "&#13;", "&#xA0;", "&#x3000;",
			">", "]", "]]", "[[ ## answer ## ]]", `"answer":`, "a &amp;&amp; b"))
	}
	return b.String()
}

// genXMLValue returns well-formed element content.
func genXMLValue(r *rand.Rand, depth int) string {
	var b strings.Builder
	for range r.IntN(6) {
		switch k := r.IntN(10); {
		case k < 5:
			b.WriteString(genXMLText(r, 4))
		case k == 5:
			b.WriteString(pick(r, "<![CDATA[a < b & c]]>", "<![CDATA[]]>", "<![CDATA[x]]]]>", "<![CDATA[ \r\n ]]>"))
		case k == 6:
			b.WriteString(pick(r, "<!-- c -->", "<!---->", "<?pi x?>", "<?pi?>"))
		case depth < 2:
			n := pick(r, "b", "answer", "i", "reasoning")
			switch r.IntN(4) {
			case 0:
				b.WriteString("<" + n + pick(r, "/>", " />", "></"+n+">", "><!--x--></"+n+">"))
			case 1:
				b.WriteString("<" + n + ` x="1 &amp; 2"` + pick(r, "", "\ty='q\"'", ` z="a\nb&#10;c&#9;d&lt;"`) + ">" + genXMLValue(r, depth+1) + "</" + n + ">")
			default:
				b.WriteString("<" + n + ">" + genXMLValue(r, depth+1) + "</" + n + ">")
			}
		}
	}
	return b.String()
}

// jsonString encodes s as a JSON string, escaping at random: plain, \uXXXX
// (surrogate pairs above the BMP), or the short escapes.
func jsonString(r *rand.Rand, s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, c := range s {
		switch {
		case c == '"':
			b.WriteString(`\"`)
		case c == '\\':
			b.WriteString(`\\`)
		case c == '\n' && r.IntN(2) == 0:
			b.WriteString(`\n`)
		case c == '\t' && r.IntN(2) == 0:
			b.WriteString(`\t`)
		case c == '/' && r.IntN(2) == 0:
			b.WriteString(`\/`)
		case c < 0x20 || r.IntN(8) == 0:
			if c > 0xFFFF {
				hi, lo := utf16.EncodeRune(c)
				fmt.Fprintf(&b, `\u%04x\u%04X`, hi, lo)
			} else {
				fmt.Fprintf(&b, `\u%04x`, c)
			}
		default:
			b.WriteRune(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// genJSONValue returns a random JSON value.
func genJSONValue(r *rand.Rand, depth int) string {
	switch k := r.IntN(10); {
	case k < 5:
		return jsonString(r, genText(r, 10))
	case k == 5:
		return pick(r, "42", "-1.5e3", "0", "true", "false", "null")
	case k == 6 && depth < 2:
		return "[" + genJSONValue(r, depth+1) + pick(r, ",", ", ", " ,\n ") + genJSONValue(r, depth+1) + "]"
	case k == 7 && depth < 2:
		return "{" + jsonString(r, genText(r, 2)) + ": " + genJSONValue(r, depth+1) + "}"
	case k == 8:
		// Surrogates that do not pair: encoding/json makes them U+FFFD.
		return `"` + pick(r, `\ud83d`, `\ude00`, `\ud83d\ud83d\ude00`, `\udc00x`, `\ud800\n`) + `"`
	}
	return `""`
}

// genJSON writes a JSONAdapter reply: an object, maybe fenced or after
// prose, with duplicate and unknown keys.
func genJSON(r *rand.Rand) string {
	var b strings.Builder
	b.WriteString(pick(r, "", "```json\n", "```\n", "Here you go:\n", " \n", "Use {x} and {\n\t", "{ {{\n```json\n"))
	b.WriteString(pick(r, "{", "{\n  ", "{ "))
	names := []string{"reasoning", "answer", "x_1", "other", "answer", "nested"}
	n := r.IntN(5)
	for k := range n {
		key := names[r.IntN(len(names))]
		if r.IntN(8) == 0 {
			key = jsonString(r, key)
		} else {
			key = `"` + key + `"`
		}
		b.WriteString(key + pick(r, ":", ": ", " : ", ":\n") + genJSONValue(r, 0))
		if k < n-1 {
			b.WriteString(pick(r, ",", ", ", ",\n  ", " ,"))
		}
	}
	b.WriteString(pick(r, "}", "\n}", " }"))
	b.WriteString(pick(r, "", "\n```", "\nNone", "}\n"))
	return b.String()
}

func chatMarkers(fields []string) []string {
	m := []string{"[[ ## completed ## ]]"}
	for _, f := range fields {
		m = append(m, "[[ ## "+f+" ## ]]")
	}
	return m
}

func xmlMarkers(fields []string) []string {
	var m []string
	for _, f := range fields {
		m = append(m, "<"+f+">", "</"+f+">")
	}
	return m
}

func jsonMarkers(fields []string) []string {
	var m []string
	for _, f := range fields {
		m = append(m, `"`+f+`"`)
	}
	return m
}

type propCase struct {
	name    string
	gen     func(*rand.Rand) string
	new     func([]string) parser
	ref     func(string, []string) (map[string]string, error)
	markers []string
}

var propCases = []propCase{
	{"Chat", genChat, func(f []string) parser { return NewChat(f) },
		func(s string, f []string) (map[string]string, error) { return refChat(s, f), nil }, chatMarkers(propFields)},
	{"JSON", genJSON, func(f []string) parser { return NewJSON(f) }, refJSON, jsonMarkers(propFields)},
	{"XML", genXML, func(f []string) parser { return NewXML(f) }, refXML, xmlMarkers(propFields)},
}

// TestProperty cuts generated replies at every byte offset and at random
// offsets and checks the listener contract against the reference parse.
func TestProperty(t *testing.T) {
	for _, pc := range propCases {
		t.Run(pc.name, func(t *testing.T) {
			t.Parallel()
			r := rand.New(rand.NewPCG(1, uint64(len(pc.name))))
			runs, parsed, malformed := 0, 0, 0
			for range propReplies {
				reply := pc.gen(r)
				want, err := pc.ref(reply, propFields)
				if err != nil && pc.name != "XML" {
					t.Fatalf("generated reply does not parse: %v\n%q", err, reply)
				}
				if err != nil {
					malformed++
				} else if len(want) > 0 {
					parsed++
				}
				cuts := everyOffset(len(reply))
				for range propCuts {
					cuts = append(cuts, randomCuts(r, len(reply)))
				}
				for _, c := range cuts {
					runs++
					p := pc.new(propFields)
					got := feed(p, reply, c)
					if err := checkStream(p, got, want, err, pc.markers); err != nil {
						t.Fatalf("reply %q cut at %v: %v\nchunks: %+v", reply, c, err, got)
					}
				}
			}
			t.Logf("%d replies (%d malformed), %d cuttings", propReplies, malformed, runs)
			if parsed < propReplies/2 {
				t.Errorf("only %d of %d generated replies had a field", parsed, propReplies)
			}
		})
	}
}

// TestPropertyValues checks the generators and references against each
// other: a value placed in a reply on its own comes back trimmed (Chat,
// XML) or exactly (JSON), tricky content included.
func TestPropertyValues(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	for range 500 {
		v := genText(r, 12)
		// Chat: no line of the value may look like a header.
		lines := strings.Split(v, "\n")
		for k, l := range lines {
			if strings.HasPrefix(strings.TrimSpace(l), "[[ ## ") {
				lines[k] = "x" + l
			}
		}
		cv := strings.Join(lines, "\n")
		chat := "[[ ## answer ## ]]\n" + cv + "\n\n[[ ## completed ## ]]"
		if got := refChat(chat, propFields)["answer"]; got != strings.TrimSpace(cv) {
			t.Fatalf("refChat(%q) = %q, want %q", chat, got, strings.TrimSpace(cv))
		}
		checkAllCuts(t, mkChat, chat, map[string]string{"answer": strings.TrimSpace(cv)})

		// XML: the value written with its markup escaped reads back as
		// itself, line ends normalized and trimmed.
		xv := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(v)
		xml := "<answer>" + xv + "</answer>"
		wantX := strings.TrimSpace(strings.ReplaceAll(strings.ReplaceAll(v, "\r\n", "\n"), "\r", "\n"))
		if got, err := refXML(xml, propFields); err == nil && got["answer"] != wantX {
			t.Fatalf("refXML(%q) = %q, want %q", xml, got["answer"], wantX)
		} else if err == nil {
			checkAllCuts(t, mkXML, xml, map[string]string{"answer": wantX})
		} else if utf8.ValidString(v) {
			t.Fatalf("refXML(%q): %v", xml, err)
		}

		if !utf8.ValidString(v) {
			continue
		}
		js := `{"answer": ` + jsonString(r, v) + `}`
		got, err := refJSON(js, propFields)
		if err != nil || got["answer"] != v {
			t.Fatalf("refJSON(%q) = %q, %v; want %q", js, got["answer"], err, v)
		}
		checkAllCuts(t, mkJSON, js, map[string]string{"answer": v})
	}
}

// Constructors as parser-returning funcs.
func mkChat(f []string) parser { return NewChat(f) }
func mkXML(f []string) parser  { return NewXML(f) }
func mkJSON(f []string) parser { return NewJSON(f) }

func checkAllCuts(t *testing.T, mk func([]string) parser, reply string, want map[string]string) {
	t.Helper()
	for _, c := range everyOffset(len(reply)) {
		got := feed(mk(propFields), reply, c)
		if err := checkChunks(got, want, nil); err != nil {
			t.Fatalf("reply %q cut at %v: %v\nchunks: %+v", reply, c, err, got)
		}
	}
}

// checkStream checks one run against the reference: for a reply that
// parses, the listener contract (checkChunks); for one that does not (XML
// only), that the parser found it malformed too and that the stream still
// has its shape: one Last chunk per streamed field, nothing after it.
func checkStream(p parser, got []Chunk, want map[string]string, refErr error, markers []string) error {
	x, isXML := p.(*XML)
	if refErr == nil {
		if isXML && x.Err() != nil {
			return fmt.Errorf("parser: %v; the reference parses the reply", x.Err())
		}
		return checkChunks(got, want, markers)
	}
	if isXML && x.Err() == nil {
		return fmt.Errorf("parser found no error; the reference: %v", refErr)
	}
	shape := map[string]string{}
	for _, c := range got {
		shape[c.Field] += c.Text
	}
	return checkChunks(got, shape, nil)
}

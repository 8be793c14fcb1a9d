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

// genXML writes an XMLAdapter reply: tagged fields with tricky values, the
// closing tag missing at the end now and then, unknown tags and prose.
func genXML(r *rand.Rand) string {
	var b strings.Builder
	names := []string{"reasoning", "answer", "x_1", "other", "answer", "b"}
	for range r.IntN(5) {
		if r.IntN(3) == 0 {
			b.WriteString(genText(r, 3))
		}
		n := names[r.IntN(len(names))]
		v := genText(r, 12)
		v = strings.ReplaceAll(v, "</"+n+">", "</"+n+" >")
		b.WriteString("<" + n + ">" + v)
		if r.IntN(6) != 0 {
			b.WriteString("</" + n + ">")
		} else {
			b.WriteString(pick(r, "", "</"+n, "</"))
		}
		b.WriteString(pick(r, "", "\n", " "))
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
	{"XML", genXML, func(f []string) parser { return NewXML(f) },
		func(s string, f []string) (map[string]string, error) { return refXML(s, f), nil }, xmlMarkers(propFields)},
}

// TestProperty cuts generated replies at every byte offset and at random
// offsets and checks the listener contract against the reference parse.
func TestProperty(t *testing.T) {
	for _, pc := range propCases {
		t.Run(pc.name, func(t *testing.T) {
			t.Parallel()
			r := rand.New(rand.NewPCG(1, uint64(len(pc.name))))
			runs, parsed := 0, 0
			for range propReplies {
				reply := pc.gen(r)
				want, err := pc.ref(reply, propFields)
				if err != nil {
					t.Fatalf("generated reply does not parse: %v\n%q", err, reply)
				}
				if len(want) > 0 {
					parsed++
				}
				cuts := everyOffset(len(reply))
				for range propCuts {
					cuts = append(cuts, randomCuts(r, len(reply)))
				}
				for _, c := range cuts {
					runs++
					got := feed(pc.new(propFields), reply, c)
					if err := checkChunks(got, want, pc.markers); err != nil {
						t.Fatalf("reply %q cut at %v: %v\nchunks: %+v", reply, c, err, got)
					}
				}
			}
			if parsed < propReplies/2 {
				t.Errorf("only %d of %d generated replies had a field", parsed, propReplies)
			}
			t.Logf("%d replies, %d cuttings", propReplies, runs)
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

		xv := strings.ReplaceAll(v, "</answer>", "</answer >")
		xml := "<answer>" + xv + "</answer>"
		if got := refXML(xml, propFields)["answer"]; got != strings.TrimSpace(xv) {
			t.Fatalf("refXML(%q) = %q, want %q", xml, got, strings.TrimSpace(xv))
		}
		checkAllCuts(t, mkXML, xml, map[string]string{"answer": strings.TrimSpace(xv)})

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

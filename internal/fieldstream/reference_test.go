package fieldstream

import (
	"bytes"
	"encoding/json"
	"errors"
	"regexp"
	"strings"
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

// refXML: scanning left to right, the earliest <NAME> of a field not yet
// found opens its value, which runs to the next </NAME>, or to the end.
func refXML(reply string, fields []string) map[string]string {
	vals := map[string]string{}
	pos := 0
	for {
		best, name := -1, ""
		for _, f := range fields {
			if _, ok := vals[f]; ok || f == "" {
				continue
			}
			if k := strings.Index(reply[pos:], "<"+f+">"); k >= 0 && (best < 0 || k < best) {
				best, name = k, f
			}
		}
		if best < 0 {
			return vals
		}
		start := pos + best + len(name) + 2
		end := strings.Index(reply[start:], "</"+name+">")
		if end < 0 {
			vals[name] = strings.TrimSpace(reply[start:])
			return vals
		}
		vals[name] = strings.TrimSpace(reply[start : start+end])
		pos = start + end + len(name) + 3
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

package openai

import (
	"unicode/utf8"

	"github.com/godspy/dspy/lm"
)

// fastChunk decodes the chunk shape nearly every content chunk of a chat
// stream has, without encoding/json:
//
//	{"id":"…","object":"chat.completion.chunk","created":1,"model":"…",
//	 "system_fingerprint":"…","choices":[{"index":0,"delta":{"content":"…"},
//	 "logprobs":null,"finish_reason":null}],"usage":null}
//
// It returns choice 0's content, native reasoning and finish reason (ID and
// Model are the caller's). ok is false for anything else — another key, a
// usage, a tool call, a refusal, a number where a
// string was, an escape it does not decode, a byte out of place — and the
// caller then decodes data with encoding/json, so what the fast path
// accepts it must decode exactly as encoding/json would (fastchunk_test.go
// checks both on the provider captures and under fuzzing). On W4 (1,000
// streams on two cores) encoding/json was a third of the client's CPU, and
// that CPU is what the tail latency queues behind.
func fastChunk(data []byte) (ch lm.Chunk, ok bool) {
	s := scan{b: data}
	if !s.byte('{') {
		return ch, false
	}
	sawChoices := false
	for first := true; ; first = false {
		if s.byte('}') {
			break
		}
		if !first && !s.byte(',') {
			return ch, false
		}
		key, ok := s.key()
		if !ok {
			return ch, false
		}
		switch string(key) {
		case "id", "object", "model", "system_fingerprint", "service_tier", "obfuscation":
			// Decoded from the first chunk only (chunkHead); ignored after.
			if _, ok := s.plainBytes(); !ok && !s.null() {
				return ch, false
			}
		case "created":
			if !s.uint() {
				return ch, false
			}
		case "usage":
			if !s.null() {
				return ch, false
			}
		case "choices":
			if sawChoices {
				return ch, false // a duplicate key: encoding/json merges them
			}
			sawChoices = true
			if ch, ok = s.choices(); !ok {
				return ch, false
			}
		default:
			return ch, false
		}
	}
	s.space()
	if s.i != len(s.b) || !sawChoices {
		return ch, false
	}
	return ch, true
}

// scan reads JSON tokens from b; its methods report false, without a
// promise about i, when the next token is not what they take.
type scan struct {
	b []byte
	i int
}

func (s *scan) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// byte consumes c after optional white space.
func (s *scan) byte(c byte) bool {
	s.space()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

func (s *scan) lit(l string) bool {
	s.space()
	if len(s.b)-s.i >= len(l) && string(s.b[s.i:s.i+len(l)]) == l {
		s.i += len(l)
		return true
	}
	return false
}

func (s *scan) null() bool { return s.lit("null") }

// uint consumes a JSON integer with no sign, fraction or exponent.
func (s *scan) uint() bool {
	s.space()
	start := s.i
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
	}
	n := s.i - start
	return n > 0 && (n == 1 || s.b[start] != '0')
}

// key consumes an object key and its colon. The key is returned only if it
// is plain (no escapes): an escaped key could match a field under
// encoding/json's rules, so it is left to them. Callers switch on
// string(key), which does not allocate.
func (s *scan) key() ([]byte, bool) {
	k, ok := s.plainBytes()
	if !ok || !s.byte(':') {
		return nil, false
	}
	return k, true
}

// plainBytes consumes a string with no escapes, control bytes or invalid
// UTF-8 and returns its bytes (aliasing b).
func (s *scan) plainBytes() ([]byte, bool) {
	s.space()
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return nil, false
	}
	start := s.i + 1
	ascii := true
	for j := start; j < len(s.b); j++ {
		switch c := s.b[j]; {
		case c == '"':
			v := s.b[start:j]
			if !ascii && !utf8.Valid(v) {
				return nil, false // encoding/json replaces invalid bytes with U+FFFD
			}
			s.i = j + 1
			return v, true
		case c == '\\' || c < 0x20:
			return nil, false
		case c >= 0x80:
			ascii = false
		}
	}
	return nil, false
}

func (s *scan) plainString() (string, bool) {
	v, ok := s.plainBytes()
	if !ok {
		return "", false
	}
	return string(v), true
}

// content consumes a string that may hold the escapes a model's text
// commonly has (\n, \", \\, \/, \t, \r, \b, \f); \u escapes are left to
// encoding/json.
func (s *scan) content() (string, bool) {
	s.space()
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return "", false
	}
	start := s.i + 1
	ascii, esc := true, false
	j := start
	for ; j < len(s.b); j++ {
		c := s.b[j]
		if c == '"' {
			break
		}
		switch {
		case c == '\\':
			if j+1 >= len(s.b) {
				return "", false
			}
			switch s.b[j+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			default:
				return "", false
			}
			esc = true
			j++
		case c < 0x20:
			return "", false
		case c >= 0x80:
			ascii = false
		}
	}
	if j >= len(s.b) {
		return "", false
	}
	raw := s.b[start:j]
	s.i = j + 1
	if !ascii && !utf8.Valid(raw) {
		return "", false
	}
	if !esc {
		return string(raw), true
	}
	out := make([]byte, 0, len(raw))
	for k := 0; k < len(raw); k++ {
		c := raw[k]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		k++
		switch raw[k] {
		case 'b':
			c = '\b'
		case 'f':
			c = '\f'
		case 'n':
			c = '\n'
		case 'r':
			c = '\r'
		case 't':
			c = '\t'
		default: // '"', '\\', '/'
			c = raw[k]
		}
		out = append(out, c)
	}
	return string(out), true
}

// choices consumes an array of exactly one choice with index 0.
func (s *scan) choices() (ch lm.Chunk, ok bool) {
	if !s.byte('[') || !s.byte('{') {
		return ch, false
	}
	var sawIndex, sawDelta, sawLogprobs, sawFinish bool
	dup := func(seen *bool) bool {
		d := *seen
		*seen = true
		return d
	}
	for first := true; ; first = false {
		if s.byte('}') {
			break
		}
		if !first && !s.byte(',') {
			return ch, false
		}
		key, ok := s.key()
		if !ok {
			return ch, false
		}
		switch string(key) {
		case "index":
			if dup(&sawIndex) || !s.lit("0") {
				return ch, false
			}
			// "01" and "0.5" are not JSON; "0" followed by a digit or
			// fraction is left to encoding/json.
			if s.i < len(s.b) && (s.b[s.i] >= '0' && s.b[s.i] <= '9' || s.b[s.i] == '.' || s.b[s.i] == 'e' || s.b[s.i] == 'E') {
				return ch, false
			}
		case "delta":
			if dup(&sawDelta) {
				return ch, false
			}
			if ch.Text, ch.Reasoning, ok = s.delta(); !ok {
				return ch, false
			}
		case "logprobs":
			if dup(&sawLogprobs) || !s.null() {
				return ch, false
			}
		case "finish_reason":
			if dup(&sawFinish) {
				return ch, false
			}
			if s.null() {
				ch.FinishReason = ""
			} else if ch.FinishReason, ok = s.plainString(); !ok {
				return ch, false
			}
		default:
			return ch, false
		}
	}
	if !s.byte(']') {
		return ch, false
	}
	return ch, true
}

// delta consumes a delta of content, native reasoning and role alone.
func (s *scan) delta() (text, reasoning string, ok bool) {
	if !s.byte('{') {
		return "", "", false
	}
	var sawRole, sawContent, sawRefusal, sawRC, sawR bool
	var rc, r string // reasoning_content wins over reasoning, as in decodeJSON
	for first := true; ; first = false {
		if s.byte('}') {
			if rc == "" {
				rc = r
			}
			return text, rc, true
		}
		if !first && !s.byte(',') {
			return "", "", false
		}
		key, ok := s.key()
		if !ok {
			return "", "", false
		}
		switch string(key) {
		case "role":
			if sawRole {
				return "", "", false
			}
			sawRole = true
			if _, ok := s.plainBytes(); !ok && !s.null() {
				return "", "", false
			}
		case "content", "reasoning_content", "reasoning":
			dst, seen := &text, &sawContent
			switch string(key) {
			case "reasoning_content":
				dst, seen = &rc, &sawRC
			case "reasoning":
				dst, seen = &r, &sawR
			}
			if *seen {
				return "", "", false
			}
			*seen = true
			if s.null() {
				continue
			}
			if *dst, ok = s.content(); !ok {
				return "", "", false
			}
		case "refusal":
			if sawRefusal || !s.null() {
				return "", "", false
			}
			sawRefusal = true
		default:
			return "", "", false
		}
	}
}

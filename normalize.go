package dspy

import (
	"strings"
	"unicode"
)

// NormalizeText normalizes an answer for comparison as DSPy's normalize_text
// does (the SQuAD normalization): lower case, ASCII punctuation removed, the
// articles "a", "an" and "the" removed, and runs of white space collapsed
// to one space, trimmed at both ends. Unlike DSPy it does not apply Unicode
// NFD first, so a precomposed "é" and "e" + combining accent differ.
func NormalizeText(s string) string {
	s = strings.ToLower(s)
	s = strings.Map(func(r rune) rune {
		if r < unicode.MaxASCII && unicode.IsPunct(r) || strings.ContainsRune("$+<=>^`|~", r) {
			return -1
		}
		return r
	}, s)
	// Articles are whole words (Python's \b: between a word and a non-word
	// character); a removed one leaves a space, as in DSPy.
	var b strings.Builder
	b.Grow(len(s))
	isWord := func(r rune) bool { return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) }
	for len(s) > 0 {
		i := strings.IndexFunc(s, func(r rune) bool { return !isWord(r) })
		if i < 0 {
			i = len(s)
		}
		if i == 0 {
			j := strings.IndexFunc(s, isWord)
			if j < 0 {
				j = len(s)
			}
			b.WriteString(s[:j])
			s = s[j:]
			continue
		}
		switch w := s[:i]; w {
		case "a", "an", "the":
			b.WriteByte(' ')
		default:
			b.WriteString(w)
		}
		s = s[i:]
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

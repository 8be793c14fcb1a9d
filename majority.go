package dspy

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
)

// Majority returns the prediction whose value of field is the most common
// among preds, compared after NormalizeText: DSPy's dspy.majority. A tie
// goes to the value seen first, and the prediction returned is the first
// that carries the winning value. Values that normalize to "" (missing or
// empty) are left out of the count unless every value does. An empty field
// means the last output field of the first prediction, as in DSPy.
//
// For one prediction holding n completions, pass CompletionsOf(pred).
func Majority(preds []*Prediction, field string) (*Prediction, error) {
	if len(preds) == 0 {
		return nil, errors.New("dspy: Majority: no predictions")
	}
	if field == "" {
		for _, p := range preds {
			if p != nil && len(p.names) > 0 {
				field = p.names[len(p.names)-1]
				break
			}
		}
		if field == "" {
			return nil, errors.New("dspy: Majority: no field given and the predictions have none")
		}
	}
	norm := make([]string, len(preds))
	has := make([]bool, len(preds))
	counts := map[string]int{}
	var order []string // values in order of first appearance
	allEmpty := true
	for i, p := range preds {
		if p == nil || !p.Has(field) {
			continue
		}
		has[i] = true
		norm[i] = NormalizeText(p.String(field))
		if norm[i] != "" {
			allEmpty = false
		}
	}
	for i := range preds {
		if !has[i] || (norm[i] == "" && !allEmpty) {
			continue
		}
		if counts[norm[i]] == 0 {
			order = append(order, norm[i])
		}
		counts[norm[i]]++
	}
	if len(order) == 0 {
		return nil, fmt.Errorf("dspy: Majority: no prediction has the field %q", field)
	}
	winner := order[0]
	for _, v := range order[1:] {
		if counts[v] > counts[winner] {
			winner = v
		}
	}
	for i, p := range preds {
		if has[i] && norm[i] == winner {
			return p, nil
		}
	}
	return nil, fmt.Errorf("dspy: Majority: no prediction has the field %q", field) // not reached
}

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

// CompletionsOf returns one prediction per completion of p (a call with
// n > 1 fills Prediction.Completions), each with p's field names; p alone
// when it has no completions.
func CompletionsOf(p *Prediction) []*Prediction {
	if p == nil || len(p.Completions) == 0 {
		return []*Prediction{p}
	}
	out := make([]*Prediction, len(p.Completions))
	for i, vals := range p.Completions {
		out[i] = NewPrediction(p.names, vals)
	}
	return out
}

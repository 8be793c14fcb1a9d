package dspy

import (
	"errors"
	"fmt"
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

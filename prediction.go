package dspy

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/godspy/dspy/lm"
)

// Prediction is the result of a module call: output values in signature
// order, and the tokens the call used.
type Prediction struct {
	names  []string
	values map[string]any
	// Usage sums the tokens of every LM call made for this prediction, when
	// usage tracking is on (see WithUsageTracking) or always for Predict.
	Usage lm.Usage
	// Completions holds every choice's values when a call asked for n > 1
	// (Completions[0] equals this prediction's fields).
	Completions []map[string]any
	// Trajectory is the step log of an agent (ReAct), nil otherwise.
	Trajectory []Step
}

// NewPrediction builds a prediction from names (the order) and values.
func NewPrediction(names []string, values map[string]any) *Prediction {
	return &Prediction{names: names, values: values}
}

// Get returns a field's value, or nil.
func (p *Prediction) Get(name string) any {
	if p == nil {
		return nil
	}
	return p.values[name]
}

// Has reports whether the prediction has a field.
func (p *Prediction) Has(name string) bool {
	_, ok := p.values[name]
	return ok
}

// Names returns the field names in signature order.
func (p *Prediction) Names() []string { return append([]string(nil), p.names...) }

// Fields returns a copy of the values keyed by name.
func (p *Prediction) Fields() map[string]any {
	m := make(map[string]any, len(p.values))
	for k, v := range p.values {
		m[k] = v
	}
	return m
}

// String returns a field's value as text: strings as they are, other values
// as JSON.
func (p *Prediction) String(name string) string {
	v := p.Get(name)
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// Int returns an int field; the error names the field when it is missing or
// not a number.
func (p *Prediction) Int(name string) (int, error) {
	switch x := p.Get(name).(type) {
	case int:
		return x, nil
	case int64:
		return int(x), nil
	case float64:
		if x == float64(int(x)) {
			return int(x), nil
		}
	case string:
		if n, err := strconv.Atoi(x); err == nil {
			return n, nil
		}
	}
	return 0, fmt.Errorf("dspy: field %q is %T, not an int", name, p.Get(name))
}

// Float returns a float field.
func (p *Prediction) Float(name string) (float64, error) {
	switch x := p.Get(name).(type) {
	case float64:
		return x, nil
	case int:
		return float64(x), nil
	case string:
		if f, err := strconv.ParseFloat(x, 64); err == nil {
			return f, nil
		}
	}
	return 0, fmt.Errorf("dspy: field %q is %T, not a float", name, p.Get(name))
}

// Bool returns a bool field.
func (p *Prediction) Bool(name string) (bool, error) {
	if b, ok := p.Get(name).(bool); ok {
		return b, nil
	}
	return false, fmt.Errorf("dspy: field %q is %T, not a bool", name, p.Get(name))
}

// Strings returns a list field (list[str], or any list of strings) as a
// []string; the error names the field when it is missing or holds a value
// that is not a list of strings.
func (p *Prediction) Strings(name string) ([]string, error) {
	switch x := p.Get(name).(type) {
	case []string:
		return slices.Clone(x), nil
	case []any:
		out := make([]string, len(x))
		for i, v := range x {
			s, ok := v.(string)
			if !ok {
				return nil, fmt.Errorf("dspy: field %q: item %d is %s, not a string", name, i, describeValue(v))
			}
			out[i] = s
		}
		return out, nil
	case nil:
		if !p.Has(name) {
			return nil, fmt.Errorf("dspy: no field %q", name)
		}
	}
	return nil, fmt.Errorf("dspy: field %q is %s, not a list of strings", name, describeValue(p.Get(name)))
}

// Decode stores the fields into the struct pointed to by v, matching json
// tags (or Go names, case-insensitively), as encoding/json does.
func (p *Prediction) Decode(v any) error {
	b, err := json.Marshal(p.values)
	if err != nil {
		return fmt.Errorf("dspy: Decode: %w", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("dspy: Decode: %w", err)
	}
	return nil
}

// Format prints the prediction as DSPy does, Prediction(answer='...'), for
// the verbs %v and %s; %+v adds the usage.
func (p *Prediction) Format(f fmt.State, verb rune) {
	if p == nil {
		fmt.Fprint(f, "Prediction(nil)")
		return
	}
	var b strings.Builder
	b.WriteString("Prediction(\n")
	for i, n := range p.names {
		b.WriteString("    " + n + "=")
		if s, ok := p.values[n].(string); ok {
			b.WriteString(pyRepr(s))
		} else {
			b.WriteString(p.String(n))
		}
		if i < len(p.names)-1 {
			b.WriteString(",")
		}
		b.WriteString("\n")
	}
	b.WriteString(")")
	if verb == 'v' && f.Flag('+') {
		fmt.Fprintf(&b, " usage=%+v", p.Usage)
	}
	fmt.Fprint(f, b.String())
}

// MarshalJSON encodes the fields as an object in signature order.
func (p *Prediction) MarshalJSON() ([]byte, error) {
	b := []byte{'{'}
	for i, n := range p.names {
		if i > 0 {
			b = append(b, ',')
		}
		k, _ := json.Marshal(n)
		v, err := json.Marshal(p.values[n])
		if err != nil {
			return nil, err
		}
		b = append(append(append(b, k...), ':'), v...)
	}
	return append(b, '}'), nil
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

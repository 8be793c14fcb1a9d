package dspy

import "fmt"

// History is DSPy's dspy.History: the earlier turns of a conversation, for a
// signature input of type History (HistoryType, "history: History").
//
// Each message is one earlier turn, keyed by the signature's field names:
// its input values and the outputs the LM gave. The adapters write each
// turn as DSPy's do, as a user message with the turn's inputs (left out when
// it has none) and an assistant message with its outputs (a missing output
// written as None), after the demos and before the current inputs. The
// history field itself appears only in the system message's field list and
// structure, as in DSPy.
type History struct {
	Messages []map[string]any `json:"messages"`
}

// historyOf reads an input value as a History: a History, a *History, or
// the JSON form {"messages": [{...}, ...]} a client sends.
func historyOf(v any) (History, error) {
	switch h := v.(type) {
	case History:
		return h, nil
	case *History:
		if h == nil {
			return History{}, nil
		}
		return *h, nil
	case nil:
		return History{}, nil
	case map[string]any:
		if len(h) != 1 {
			break
		}
		switch ms := h["messages"].(type) {
		case []map[string]any:
			return History{Messages: ms}, nil
		case []any:
			out := make([]map[string]any, len(ms))
			for i, m := range ms {
				mm, ok := m.(map[string]any)
				if !ok {
					return History{}, fmt.Errorf("history message %d is a %T, not an object", i, m)
				}
				out[i] = mm
			}
			return History{Messages: out}, nil
		case nil:
			if _, ok := h["messages"]; ok {
				return History{}, nil
			}
		}
	}
	return History{}, fmt.Errorf("a History is a dspy.History or {\"messages\": [...]}, not %T", v)
}

package openai

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
)

// content is a message's or a delta's content as the chat-completions
// family sends it: a string, null, or a list of typed parts. Mistral's
// reasoning models (magistral) send
// [{"type":"thinking","thinking":[{"type":"text","text":…}]},{"type":"text","text":…}];
// others send text / output_text parts, reasoning parts and refusal parts.
// Thinking and reasoning parts become reasoning, text parts content, refusal
// parts the refusal; other parts (images, references) are skipped.
type content struct {
	text, reasoning, refusal string
}

func (c *content) UnmarshalJSON(b []byte) error {
	*c = content{}
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || string(b) == "null":
		return nil
	case b[0] == '"':
		return json.Unmarshal(b, &c.text)
	case b[0] != '[':
		return errors.New("content is neither a string, null nor a list of parts")
	}
	var parts []json.RawMessage
	if err := json.Unmarshal(b, &parts); err != nil {
		return err
	}
	var text, reasoning, refusal strings.Builder
	for _, raw := range parts {
		if bytes.HasPrefix(bytes.TrimSpace(raw), []byte(`"`)) { // a bare string is text
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return err
			}
			text.WriteString(s)
			continue
		}
		var p struct {
			Type      string          `json:"type"`
			Text      string          `json:"text"`
			Thinking  json.RawMessage `json:"thinking"`
			Reasoning string          `json:"reasoning"`
			Refusal   string          `json:"refusal"`
		}
		if err := json.Unmarshal(raw, &p); err != nil {
			return err
		}
		switch p.Type {
		case "text", "output_text":
			text.WriteString(p.Text)
		case "thinking", "reasoning":
			reasoning.WriteString(p.Text)
			reasoning.WriteString(p.Reasoning)
			if err := thinkingText(p.Thinking, &reasoning); err != nil {
				return err
			}
		case "refusal":
			refusal.WriteString(p.Refusal)
		}
	}
	c.text, c.reasoning, c.refusal = text.String(), reasoning.String(), refusal.String()
	return nil
}

// thinkingText appends a thinking field: a string, or Mistral's list of
// text parts.
func thinkingText(raw json.RawMessage, b *strings.Builder) error {
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) == 0 || string(raw) == "null":
		return nil
	case raw[0] == '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return err
		}
		b.WriteString(s)
		return nil
	}
	var parts []struct {
		Text string `json:"text"`
	}
	if err := json.Unmarshal(raw, &parts); err != nil {
		return err
	}
	for _, p := range parts {
		b.WriteString(p.Text)
	}
	return nil
}

// chunkParts is a chunk in the general shape, whose content may be a list
// of parts. A chunk is decoded into it only when the fast chunkHead, whose
// content is a string, meets a content of another type: plain-string
// streams, nearly all, pay nothing for the general case.
type chunkParts struct {
	ID      string `json:"id"`
	Model   string `json:"model"`
	Choices []struct {
		Index int `json:"index"`
		Delta struct {
			Content          content        `json:"content"`
			ReasoningContent string         `json:"reasoning_content"`
			Reasoning        string         `json:"reasoning"`
			Refusal          string         `json:"refusal"`
			ToolCalls        []wireToolCall `json:"tool_calls"`
		} `json:"delta"`
		FinishReason string `json:"finish_reason"`
	} `json:"choices"`
	Usage *wireUsage `json:"usage"`
	Error *wireError `json:"error"`
	XGroq *struct {
		Usage *wireUsage `json:"usage"`
	} `json:"x_groq"`
}

// decodeParts decodes data in the general shape into w, as if its content
// had been strings: parts' text in Content, their reasoning after
// ReasoningContent, their refusal after Refusal.
func decodeParts(data []byte, w *chunkHead) error {
	var g chunkParts
	if err := json.Unmarshal(data, &g); err != nil {
		return err
	}
	w.reset()
	w.ID, w.Model = g.ID, g.Model
	w.Usage, w.Error = g.Usage, g.Error
	if g.XGroq != nil {
		w.XGroq = &struct {
			Usage *wireUsage `json:"usage"`
		}{g.XGroq.Usage}
	}
	for _, gc := range g.Choices {
		d := gc.Delta
		w.Choices = append(w.Choices, chunkChoice{Index: gc.Index, FinishReason: gc.FinishReason, Delta: chunkDelta{
			Content:          d.Content.text,
			ReasoningContent: d.ReasoningContent + d.Content.reasoning,
			Reasoning:        d.Reasoning,
			Refusal:          d.Refusal + d.Content.refusal,
			ToolCalls:        d.ToolCalls,
		}})
	}
	return nil
}

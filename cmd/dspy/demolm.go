package main

import (
	"encoding/json"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/godspy/dspy/dspytest"
	"github.com/godspy/dspy/internal/calc"
	"github.com/godspy/dspy/lm"
)

// defaultDemoDelay is the demo LM's pause between 4-byte chunks: about the
// pace at which a person reads a model's stream.
const defaultDemoDelay = 15 * time.Millisecond

// newDemoLM returns the offline demo LM: a dspytest.ScriptedLM whose reply
// is a function of the request. It reads the output fields the prompt asks
// for and writes a plausible value for each, in the prompt's format (Chat
// sections, a JSON object or XML tags), streamed four bytes every delay.
// Under ReAct it picks a built-in tool when the question calls for one, and
// answers from the tool's observation.
func newDemoLM(delay time.Duration) *dspytest.ScriptedLM {
	m := dspytest.NewScriptedLMFunc(func(req *lm.Request) (dspytest.Reply, error) {
		return dspytest.Reply{Text: demoReply(req)}, nil
	}).DontRecord()
	m.ChunkSize = 4
	m.ChunkDelay = delay
	m.Latency = 20 * delay // a model's time to first token
	return m
}

// demoReply writes the demo LM's reply to req.
func demoReply(req *lm.Request) string {
	var system, user string
	for _, m := range req.Messages {
		switch m.Role {
		case lm.RoleSystem:
			system += m.Content + "\n"
		case lm.RoleUser:
			user = m.Content // the last user turn is the call; earlier ones are demos
		}
	}
	names, types := dspytest.OutputFields(system)
	if len(names) == 0 {
		return "Hello from the godspy demo LM."
	}
	d := newDemoCall(system, user, names, types)
	values := make([]string, len(names))
	for i := range names {
		values[i] = d.value(names[i], types[i])
	}
	switch {
	case req.ResponseFormat != nil:
		return jsonReply(names, types, values)
	case strings.Contains(system, "<"+names[0]+">"):
		return xmlReply(names, values)
	}
	kv := make([]string, 0, 2*len(names))
	for i, n := range names {
		kv = append(kv, n, values[i])
	}
	return dspytest.ChatReply(kv...)
}

// demoCall is what the demo LM understood of one request.
type demoCall struct {
	question   string
	trajectory string
	tools      []string // tools offered to a ReAct agent, without finish
	topic      demoTopic
}

func newDemoCall(system, user string, outNames, outTypes []string) *demoCall {
	d := &demoCall{}
	inputs := inputFieldNames(system)
	for _, n := range inputs {
		v := inputValue(user, n)
		switch {
		case n == "trajectory":
			d.trajectory = v
		case d.question == "" || n == "question" || n == "query":
			d.question = v
		}
	}
	for i, n := range outNames {
		if n == "next_tool_name" {
			for _, m := range quotedRE.FindAllStringSubmatch(outTypes[i], -1) {
				if m[1] != "finish" {
					d.tools = append(d.tools, m[1])
				}
			}
		}
	}
	d.topic = topicFor(d.question)
	return d
}

var (
	inputListRE = regexp.MustCompile("(?m)^\\s*\\d+\\.\\s+`([^`]+)`")
	quotedRE    = regexp.MustCompile(`'([^']*)'`)
	// exprRE finds arithmetic in a question: digits, operators, parentheses.
	exprRE = regexp.MustCompile(`[-+*/^().\d\s]*\d[-+*/^().\d\s]*`)
)

// inputFieldNames lists the input fields a DSPy-style system prompt names
// between "Your input fields are:" and "Your output fields are:".
func inputFieldNames(system string) []string {
	i := strings.Index(system, "Your input fields are:")
	j := strings.Index(system, "Your output fields are:")
	if i < 0 || j < i {
		return nil
	}
	var names []string
	for _, m := range inputListRE.FindAllStringSubmatch(system[i:j], -1) {
		names = append(names, m[1])
	}
	return names
}

// inputValue finds a field's value in a user turn: a "[[ ## name ## ]]"
// section (Chat and JSON adapters) or a <name> element (XML adapter).
func inputValue(user, name string) string {
	if _, after, ok := strings.Cut(user, "[[ ## "+name+" ## ]]\n"); ok {
		v, _, _ := strings.Cut(after, "\n\n[[ ## ")
		if name != "trajectory" {
			// Only the trajectory holds sections of its own.
			v, _, _ = strings.Cut(v, "\n\nRespond with")
		} else {
			v = trajectoryEnd(after)
		}
		return strings.TrimSpace(v)
	}
	if _, after, ok := strings.Cut(user, "<"+name+">"); ok {
		v, _, _ := strings.Cut(after, "</"+name+">")
		return strings.TrimSpace(v)
	}
	return ""
}

// trajectoryEnd cuts a trajectory section before the next top-level
// section: the trajectory's own sections are numbered (thought_0, ...).
func trajectoryEnd(s string) string {
	rest := s
	n := 0
	for {
		i := strings.Index(rest, "\n\n[[ ## ")
		if i < 0 {
			return s
		}
		name := rest[i+len("\n\n[[ ## "):]
		if !numberedSection(name) {
			return s[:n+i]
		}
		n += i + 2
		rest = rest[i+2:]
	}
}

func numberedSection(name string) bool {
	end := strings.Index(name, " ## ]]")
	if end < 0 {
		return false
	}
	k := strings.LastIndexByte(name[:end], '_')
	return k > 0 && strings.Trim(name[k+1:end], "0123456789") == ""
}

// observation returns the tool name and observation of the trajectory's
// last tool step (finish aside), or ok false when no tool has run yet.
func (d *demoCall) observation() (tool, obs string, ok bool) {
	for i := 0; strings.Contains(d.trajectory, "[[ ## observation_"+strconv.Itoa(i)+" ## ]]"); i++ {
		n := strconv.Itoa(i)
		if name := inputValue(d.trajectory, "tool_name_"+n); name != "finish" {
			tool, obs, ok = name, inputValue(d.trajectory, "observation_"+n), true
		}
	}
	return tool, obs, ok
}

// finished reports whether the agent has called finish or a tool already:
// the demo agent uses at most one tool.
func (d *demoCall) finished() bool {
	return strings.Contains(d.trajectory, "[[ ## observation_0 ## ]]")
}

// nextTool picks the tool for the question, or "finish".
func (d *demoCall) nextTool() (name string, args map[string]any) {
	if d.finished() {
		return "finish", map[string]any{}
	}
	q := strings.ToLower(d.question)
	if d.offers("calculator") {
		if e := arithmetic(d.question); e != "" {
			return "calculator", map[string]any{"expression": e}
		}
	}
	if d.offers("clock") {
		for _, w := range []string{"time", "date", "day", "today", "clock", "year", "month"} {
			if strings.Contains(q, w) {
				return "clock", map[string]any{}
			}
		}
	}
	return "finish", map[string]any{}
}

func (d *demoCall) offers(tool string) bool {
	for _, t := range d.tools {
		if t == tool {
			return true
		}
	}
	return false
}

// arithmetic returns the longest run of arithmetic in s that has an
// operator, or "".
func arithmetic(s string) string {
	best := ""
	for _, m := range exprRE.FindAllString(s, -1) {
		m = strings.Trim(strings.TrimSpace(m), ".")
		if len(m) > len(best) && strings.ContainsAny(strings.TrimLeft(m, "-"), "+-*/^") {
			best = m
		}
	}
	return best
}

// value writes the value of one output field.
func (d *demoCall) value(name, typ string) string {
	t := strings.ToLower(strings.TrimSpace(typ))
	switch name {
	case "next_thought":
		return d.thought()
	case "next_tool_name":
		n, _ := d.nextTool()
		return n
	case "next_tool_args":
		_, args := d.nextTool()
		b, _ := json.Marshal(args)
		return string(b)
	case "reasoning":
		if tool, obs, ok := d.observation(); ok {
			return "The " + tool + " tool returned " + obs + ", which is what the question needs. I will state it plainly."
		}
		if expr, v, ok := d.computed(); ok {
			return "The question is arithmetic: " + expr + ". Working it out step by step gives " + v + "."
		}
		return d.topic.reasoning(d.question)
	}
	switch {
	case t == "int":
		return "3"
	case t == "float":
		return "0.85"
	case t == "bool":
		return "true"
	case strings.HasPrefix(t, "list"):
		b, _ := json.Marshal(keywords(d.question))
		return string(b)
	case strings.HasPrefix(t, "dict"):
		return "{}"
	case strings.HasPrefix(t, "literal"):
		if m := quotedRE.FindStringSubmatch(typ); m != nil {
			return m[1]
		}
	}
	if tool, obs, ok := d.observation(); ok {
		if tool == "calculator" {
			return "The answer is " + obs + ": I worked it out with the calculator tool."
		}
		return "According to the " + tool + " tool, it is " + obs + "."
	}
	if expr, v, ok := d.computed(); ok {
		return expr + " = " + v
	}
	return d.topic.answer(d.question)
}

// computed evaluates the arithmetic in the question, if there is some.
func (d *demoCall) computed() (expr, value string, ok bool) {
	expr = arithmetic(d.question)
	if expr == "" {
		return "", "", false
	}
	v, err := calc.Eval(expr)
	if err != nil {
		return "", "", false
	}
	return expr, calc.Format(v), true
}

func (d *demoCall) thought() string {
	if tool, _, ok := d.observation(); ok && d.finished() {
		return "The " + tool + " tool gave me what I need, so I can finish and answer."
	}
	switch n, args := d.nextTool(); n {
	case "calculator":
		return "This is arithmetic, so I will let the calculator evaluate " + args["expression"].(string) + " rather than guess."
	case "clock":
		return "The answer depends on the current date and time, so I will ask the clock."
	}
	return "I can answer this from what I know, without a tool, so I will finish."
}

// keywords returns up to three words of s that carry meaning, for list
// fields.
func keywords(s string) []string {
	out := []string{}
	for _, w := range strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !(r >= 'a' && r <= 'z') }) {
		if len(w) > 2 && !stopWords[w] && !slices.Contains(out, w) && len(out) < 3 {
			out = append(out, w)
		}
	}
	return out
}

var stopWords = map[string]bool{"what": true, "why": true, "how": true, "the": true, "are": true, "does": true,
	"which": true, "who": true, "when": true, "where": true, "this": true, "that": true, "with": true, "and": true,
	"for": true, "can": true, "you": true, "was": true, "its": true, "from": true, "into": true, "about": true}

// jsonReply writes the values as one JSON object, as a model in JSON mode
// does; typed values are written as JSON, text as strings.
func jsonReply(names, types, values []string) string {
	var b strings.Builder
	b.WriteString("{\n")
	for i, n := range names {
		k, _ := json.Marshal(n)
		b.WriteString("  ")
		b.Write(k)
		b.WriteString(": ")
		if json.Valid([]byte(values[i])) && !isTextType(types[i]) {
			b.WriteString(values[i])
		} else {
			v, _ := json.Marshal(values[i])
			b.Write(v)
		}
		if i < len(names)-1 {
			b.WriteString(",")
		}
		b.WriteString("\n")
	}
	b.WriteString("}")
	return b.String()
}

func isTextType(typ string) bool {
	t := strings.ToLower(strings.TrimSpace(typ))
	return t == "" || t == "str" || strings.HasPrefix(t, "literal")
}

func xmlReply(names, values []string) string {
	var b strings.Builder
	for i, n := range names {
		if i > 0 {
			b.WriteString("\n")
		}
		b.WriteString("<" + n + ">\n" + values[i] + "\n</" + n + ">")
	}
	return b.String()
}

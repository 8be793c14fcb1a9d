package dspy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/godspy/dspy/lm"
)

// DefaultMaxIters is the number of agent iterations ReAct allows unless told
// otherwise (DSPy's default).
const DefaultMaxIters = 20

// finishTool is the name of ReAct's built-in tool that ends the loop.
const finishTool = "finish"

// finishObservation is what the finish tool "returns", as in DSPy.
const finishObservation = "Completed."

// maxTrajectoryAttempts bounds the calls made for one step when the prompt
// overflows the context window: DSPy tries three times, dropping the oldest
// step before each retry.
const maxTrajectoryAttempts = 3

// ReActOption configures NewReAct.
type ReActOption interface {
	applyReAct(*reactConfig)
}

type reactConfig struct {
	maxIters    int
	native      bool
	predictOpts []PredictOption
}

type reactOptionFunc func(*reactConfig)

func (f reactOptionFunc) applyReAct(c *reactConfig) { f(c) }

// WithMaxIters sets how many times the agent may pick a tool before its
// outputs are extracted (default DefaultMaxIters). A negative n counts as 0:
// the outputs are extracted at once. To change it for one call, see
// ReAct.WithMaxIters.
func WithMaxIters(n int) ReActOption {
	return reactOptionFunc(func(c *reactConfig) { c.maxIters = max(n, 0) })
}

// WithNativeTools makes the agent use the LM's native tool calling instead of
// writing the tool's name and arguments as output fields: each request
// carries the tools (with finish) as lm.ToolSpecs, and the calls of one
// reply run concurrently, each becoming its own trajectory step, in the
// order the LM wrote them. A reply without tool calls ends the loop as
// finish does. The trajectory, the extract step and the observations are
// the same as in the text protocol.
func WithNativeTools() ReActOption {
	return reactOptionFunc(func(c *reactConfig) { c.native = true })
}

// WithPredictOptions configures both inner predictors ("react" and
// "extract.predict"): WithLM, WithTemperature, WithMaxTokens, ...
func WithPredictOptions(opts ...PredictOption) ReActOption {
	return reactOptionFunc(func(c *reactConfig) { c.predictOpts = append(c.predictOpts, opts...) })
}

// Step is one iteration of an agent's loop.
type Step struct {
	Thought     string
	ToolName    string
	ToolArgs    map[string]any
	Observation string
}

// ReAct is DSPy's tool-using agent. In each iteration its "react" predictor
// reads the inputs and the trajectory so far and picks a thought, a tool and
// the tool's arguments; the tool runs and its result (or error) is appended
// to the trajectory as an observation. The loop ends when the agent picks
// the built-in finish tool or after WithMaxIters iterations; then the "extract"
// ChainOfThought reads the inputs and the trajectory and produces the
// signature's outputs. The Prediction carries the trajectory.
//
// Tools run with the call's ctx: cancelling the call cancels a tool in
// flight (a tool made with NewToolFunc excepted). A tool's error, bad
// arguments and an unknown tool name become the observation
// "Execution error in NAME: ..." and the loop goes on. When a prompt
// exceeds the LM's context window (lm.ErrContextWindow), the oldest
// trajectory step is left out of the prompt and the step retried, up to
// three attempts in all; Prediction.Trajectory still holds every step.
//
// A reply whose fields do not parse (after the adapter's fallback) ends the
// loop, as in DSPy, and the outputs are extracted from the trajectory so far.
//
// The finish tool is internal: it fires no Trace tool hooks, so status
// messages never mention it. A user tool named "finish" is replaced by it,
// as in DSPy.
//
// The inner predictors are reachable by NamedPredictors as "react" and
// "extract.predict", for streaming listeners. A ReAct is safe for
// concurrent use.
type ReAct struct {
	react   *Predict
	extract *ChainOfThought
	// A struct value holding no module, so the predictor walk skips it.
	cfg reactSetup
}

type reactSetup struct {
	sig      *Signature
	tools    []*Tool // in order, without finish
	byName   map[string]*Tool
	maxIters int
	native   bool
	// Native mode: the LM and adapter given for the react predictor, which
	// are taken off it so ReAct can wrap them for each call.
	lm      lm.LM
	adapter Adapter
	specs   []lm.ToolSpec
	// lenient is the react signature with next_tool_name a str, used to
	// read a reply that names no known tool.
	lenient *Signature
}

// NewReAct returns an agent for sig (a string or a *Signature) with the
// given tools. Nil tools are skipped; of two tools with one name the later
// wins, at the earlier's place. A malformed signature string panics, as in
// NewPredict.
func NewReAct[S string | *Signature](sig S, tools []*Tool, opts ...ReActOption) *ReAct {
	s := toSignature(sig)
	cfg := reactConfig{maxIters: DefaultMaxIters}
	for _, o := range opts {
		o.applyReAct(&cfg)
	}
	r := &ReAct{cfg: reactSetup{sig: s, maxIters: cfg.maxIters, native: cfg.native, byName: map[string]*Tool{}}}
	for _, t := range tools {
		if t == nil || t.name == finishTool {
			continue
		}
		if _, dup := r.cfg.byName[t.name]; dup {
			i := slices.IndexFunc(r.cfg.tools, func(u *Tool) bool { return u.name == t.name })
			r.cfg.tools[i] = t
		} else {
			r.cfg.tools = append(r.cfg.tools, t)
		}
		r.cfg.byName[t.name] = t
	}

	trajectory := Field{Name: "trajectory", Type: Str()}
	inputs := append(slices.Clip(slices.Clone(s.inputs)), trajectory)
	names := make([]string, 0, len(r.cfg.tools)+1)
	for _, t := range r.cfg.tools {
		names = append(names, t.name)
	}
	names = append(names, finishTool)
	reactSig := &Signature{
		instructions: agentInstructions(s, r.cfg.tools, cfg.native),
		inputs:       inputs,
		outputs: []Field{
			{Name: "next_thought", Type: Str()},
			{Name: "next_tool_name", Type: Literal(names...)},
			{Name: "next_tool_args", Type: DictOf(Str(), Any())},
		},
	}
	if cfg.native {
		reactSig.outputs = reactSig.outputs[:1]
		for _, t := range r.cfg.tools {
			r.cfg.specs = append(r.cfg.specs, t.Spec())
		}
		r.cfg.specs = append(r.cfg.specs, lm.ToolSpec{
			Name:        finishTool,
			Description: finishDesc(s),
			Parameters:  map[string]any{"type": "object", "properties": map[string]any{}, "required": []string{}},
		})
	} else {
		r.cfg.lenient = &Signature{instructions: reactSig.instructions, inputs: reactSig.inputs,
			outputs: []Field{reactSig.outputs[0], {Name: "next_tool_name", Type: Str()}, reactSig.outputs[2]}}
	}
	r.react = NewPredict(reactSig, cfg.predictOpts...)
	if cfg.native {
		r.cfg.lm, r.react.cfg.lm = r.react.cfg.lm, nil
		r.cfg.adapter, r.react.cfg.adapter = r.react.cfg.adapter, nil
	}
	extractSig := &Signature{
		// Explicit: the default text would name the trajectory too.
		instructions: s.Instructions(),
		inputs:       slices.Clone(inputs),
		outputs:      slices.Clone(s.outputs),
	}
	r.extract = NewChainOfThought(extractSig, cfg.predictOpts...)
	return r
}

// Signature returns the agent's signature, as given.
func (r *ReAct) Signature() *Signature { return r.cfg.sig }

// Tools returns the agent's tools in order, without the built-in finish.
func (r *ReAct) Tools() []*Tool { return slices.Clone(r.cfg.tools) }

// ReactPredictor returns the predictor that picks the next tool ("react").
func (r *ReAct) ReactPredictor() *Predict { return r.react }

// Extract returns the ChainOfThought that produces the outputs ("extract").
func (r *ReAct) Extract() *ChainOfThought { return r.extract }

type maxItersKey struct{ r *ReAct }

// WithMaxIters returns a context in which calls of r allow n iterations
// instead of r's configured number: DSPy's per-call max_iters. It applies to
// r only (not to other agents called inside the same context), and works
// through every way of calling r: Call, ACall, Batch and streaming.
func (r *ReAct) WithMaxIters(ctx context.Context, n int) context.Context {
	return context.WithValue(ctx, maxItersKey{r}, max(n, 0))
}

// Call runs the agent: dspy.Call(ctx, r, in).
func (r *ReAct) Call(ctx context.Context, in Inputs) (*Prediction, error) {
	return Call(ctx, r, in)
}

// ACall starts the agent and returns its Future.
func (r *ReAct) ACall(ctx context.Context, in Inputs) *Future[*Prediction] {
	return ACall(ctx, r, in)
}

// Forward implements Module.
func (r *ReAct) Forward(ctx context.Context, in Inputs) (*Prediction, error) {
	if err := r.cfg.sig.CheckInputs(in); err != nil {
		return nil, err
	}
	maxIters := r.cfg.maxIters
	if n, ok := ctx.Value(maxItersKey{r}).(int); ok {
		maxIters = n
	}
	run := &reactRun{r: r, in: in}
	for i := range maxIters {
		done, err := r.step(ctx, run, i)
		if err != nil {
			return nil, err
		}
		if done {
			break
		}
	}
	pred, err := run.call(ctx, r.extract)
	if err != nil {
		return nil, fmt.Errorf("dspy: ReAct: extract: %w", err)
	}
	pred.Trajectory = run.steps
	return pred, nil
}

// reactRun is the state of one call.
type reactRun struct {
	r     *ReAct
	in    Inputs
	steps []Step
	start int // steps before start are left out of prompts (context window)
}

// call runs m on the inputs and the trajectory, dropping the oldest steps
// from the prompt while it overflows the context window.
func (run *reactRun) call(ctx context.Context, m Module) (*Prediction, error) {
	var err error
	for attempt := range maxTrajectoryAttempts {
		in := make(Inputs, len(run.in)+1)
		for k, v := range run.in {
			in[k] = v
		}
		in["trajectory"] = run.r.formatTrajectory(run.steps[run.start:], run.start)
		var pred *Prediction
		pred, err = Call(ctx, m, in)
		if err == nil || !errors.Is(err, lm.ErrContextWindow) {
			return pred, err
		}
		if run.start == len(run.steps) {
			return nil, fmt.Errorf("dspy: ReAct: the prompt exceeds the context window and the trajectory has no step left to drop: %w", err)
		}
		if attempt < maxTrajectoryAttempts-1 {
			current(ctx).logger.WarnContext(ctx, "dspy: ReAct: the trajectory exceeded the context window; leaving out its oldest step", "step", run.start)
			run.start++
		}
	}
	return nil, fmt.Errorf("dspy: ReAct: the prompt still exceeds the context window after %d attempts: %w", maxTrajectoryAttempts, err)
}

// textStep runs one iteration of DSPy's text protocol.
// step runs iteration i, inside the StepStart and StepEnd hooks.
func (r *ReAct) step(ctx context.Context, run *reactRun, i int) (done bool, err error) {
	iterate := r.textStep
	if r.cfg.native {
		iterate = r.nativeStep
	}
	s := current(ctx)
	if len(s.traces) == 0 {
		return iterate(ctx, run)
	}
	ctx, _, info := beginCall(ctx)
	start := StepStartInfo{CallInfo: info, Module: r, Index: i}
	ctx = derive(ctx, &s, start)
	fire(ctx, &s, func(t *Trace) func(context.Context, StepStartInfo) { return t.StepStart }, start)
	n := len(run.steps)
	done, err = iterate(ctx, run)
	fire(ctx, &s, func(t *Trace) func(context.Context, StepEndInfo) { return t.StepEnd },
		StepEndInfo{CallInfo: info, Module: r, Index: i, Steps: slices.Clone(run.steps[n:]), Done: done, Err: err})
	return done, err
}

func (r *ReAct) textStep(ctx context.Context, run *reactRun) (done bool, err error) {
	pred, err := run.call(ctx, r.react)
	var step Step
	if err == nil {
		args, _ := pred.Get("next_tool_args").(map[string]any)
		step = Step{Thought: pred.String("next_thought"), ToolName: pred.String("next_tool_name"), ToolArgs: args}
	} else {
		var pe *ParseError
		if !errors.As(err, &pe) {
			return false, err
		}
		// A tool name outside the Literal fails the parse; read the reply
		// again with a str name so the agent learns of its mistake.
		vals, ok := r.reparse(pe)
		if !ok {
			current(ctx).logger.WarnContext(ctx, "dspy: ReAct: ending the trajectory: the agent's reply did not parse", "err", err)
			return true, nil
		}
		step.Thought, _ = vals["next_thought"].(string)
		step.ToolName, _ = vals["next_tool_name"].(string)
		step.ToolArgs, _ = vals["next_tool_args"].(map[string]any)
	}
	name := step.ToolName
	if name == finishTool {
		step.Observation = finishObservation
		run.steps = append(run.steps, step)
		return true, nil
	}
	obs, err := r.observe(ctx, name, "", step.ToolArgs)
	if err != nil {
		return false, err
	}
	step.Observation = obs
	if err := ctx.Err(); err != nil {
		return false, err
	}
	run.steps = append(run.steps, step)
	return false, nil
}

// reparse reads a reply whose next_tool_name failed the Literal check with
// the adapter that produced the error.
func (r *ReAct) reparse(pe *ParseError) (map[string]any, bool) {
	if pe.Field != "next_tool_name" {
		return nil, false
	}
	var a Adapter
	switch pe.Adapter {
	case "ChatAdapter":
		a = ChatAdapter{}
	case "JSONAdapter":
		a = JSONAdapter{}
	case "XMLAdapter":
		a = XMLAdapter{}
	default:
		return nil, false
	}
	vals, err := a.Parse(r.cfg.lenient, pe.Raw)
	return vals, err == nil
}

// nativeStep runs one iteration with native tool calling.
func (r *ReAct) nativeStep(ctx context.Context, run *reactRun) (done bool, err error) {
	s := current(ctx)
	model := r.cfg.lm
	if model == nil {
		model = s.lm
	}
	if model == nil {
		return false, ErrNoLM
	}
	adapter := r.cfg.adapter
	if adapter == nil {
		adapter = s.adapter
	}
	if adapter == nil {
		adapter = ChatAdapter{}
	}
	w := &toolCallingLM{LM: model, tools: r.cfg.specs}
	// Only the react call sees the wrappers; tools get the caller's ctx.
	rctx := WithSettings(ctx, WithLM(w), WithAdapter(lenientThought(adapter)))
	pred, err := run.call(rctx, r.react)
	if err != nil {
		return false, err
	}
	thought := pred.String("next_thought")
	calls := w.toolCalls()
	if len(calls) == 0 {
		run.steps = append(run.steps, Step{Thought: thought, ToolName: finishTool, ToolArgs: map[string]any{}, Observation: finishObservation})
		return true, nil
	}

	steps := make([]Step, len(calls))
	var g errgroup.Group                // a tool's failure is its observation: nothing cancels the others
	panics := make([]error, len(calls)) // by index: the first in call order wins
	for i, c := range calls {
		steps[i] = Step{ToolName: c.Name}
		if i == 0 {
			steps[i].Thought = thought
		}
		var args map[string]any
		if strings.TrimSpace(c.Arguments) != "" {
			var err error
			if args, err = decodeToolArgs(c.Arguments); err != nil {
				steps[i].Observation = fmt.Sprintf("Execution error in %s: the arguments are not a JSON object: %v: %s", c.Name, err, c.Arguments)
				continue
			}
		}
		if args == nil {
			args = map[string]any{}
		}
		steps[i].ToolArgs = args
		if c.Name == finishTool {
			steps[i].Observation = finishObservation
			done = true
			continue
		}
		g.Go(func() error {
			steps[i].Observation, panics[i] = r.observe(ctx, c.Name, c.ID, args) // by index: results in order
			return nil
		})
	}
	_ = g.Wait() // the goroutines return nil
	for _, err := range panics {
		if err != nil {
			return false, err
		}
	}
	if err := ctx.Err(); err != nil {
		return false, err
	}
	run.steps = append(run.steps, steps...)
	return done, nil
}

// observe runs a tool and returns its observation.
//
// A tool's failure is its observation, as in DSPy; a panic is not: it is a
// bug the LM cannot fix, so it ends the agent's call as a *PanicError, the
// same whether the tool ran on the agent's goroutine or, with native tools,
// on one of its own.
func (r *ReAct) observe(ctx context.Context, name, toolCallID string, args map[string]any) (obs string, err error) {
	defer recoverPanic(&err)
	t, ok := r.cfg.byName[name]
	if !ok {
		names := make([]string, 0, len(r.cfg.tools)+1)
		for _, t := range r.cfg.tools {
			names = append(names, t.name)
		}
		names = append(names, finishTool)
		return fmt.Sprintf("Execution error in %s: there is no tool named %q; the tools are: %s", name, name, strings.Join(names, ", ")), nil
	}
	if args == nil {
		args = map[string]any{}
	}
	res, callErr := t.call(ctx, toolCallID, args)
	if err := callErr; err != nil {
		var ae *ToolArgError
		if errors.As(err, &ae) {
			// The tool's name is already in the prefix.
			return fmt.Sprintf("Execution error in %s: argument %q: %s", name, ae.Arg, ae.Msg), nil
		}
		return "Execution error in " + name + ": " + err.Error(), nil
	}
	var b strings.Builder
	// DSPy formats observations as str input values: lists of strings
	// become numbered «items», containers JSON.
	if err := writeValue(&b, Field{Type: Str()}, res); err != nil {
		return "Execution error in " + name + ": " + err.Error(), nil
	}
	return b.String(), nil
}

// formatTrajectory writes steps as DSPy does: the user-message sections of
// a signature whose inputs are thought_i, tool_name_i, tool_args_i and
// observation_i, numbered from first.
func (r *ReAct) formatTrajectory(steps []Step, first int) string {
	var b strings.Builder
	section := func(name string, i int, value string) {
		if b.Len() > 0 {
			b.WriteString("\n\n")
		}
		b.WriteString("[[ ## ")
		b.WriteString(name)
		b.WriteString(strconv.Itoa(i))
		b.WriteString(" ## ]]\n")
		b.WriteString(value)
	}
	for j, st := range steps {
		i := first + j
		section("thought_", i, st.Thought)
		section("tool_name_", i, st.ToolName)
		section("tool_args_", i, argsJSON(st.ToolArgs, r.cfg.byName[st.ToolName]))
		section("observation_", i, st.Observation)
	}
	// DSPy strips the joined sections.
	return strings.TrimSpace(b.String())
}

// argsJSON writes args as Python's json.dumps does (", " and ": "). Go maps
// have no order; the tool's declared arguments come first, in declaration
// order (the order an LM usually writes them), then any others sorted.
func argsJSON(args map[string]any, t *Tool) string {
	keys := make([]string, 0, len(args))
	if t != nil {
		for _, a := range t.schema.args {
			if _, ok := args[a.Name]; ok {
				keys = append(keys, a.Name)
			}
		}
	}
	declared := len(keys)
	for k := range args {
		if t == nil || !slices.Contains(keys[:declared], k) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys[declared:])
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		writePyQuote(&b, k)
		b.WriteString(": ")
		writeJSONValue(&b, args[k])
	}
	b.WriteByte('}')
	return b.String()
}

// writeJSONValue writes v as JSON in json.dumps(ensure_ascii=False) style.
func writeJSONValue(b *strings.Builder, v any) {
	if s, ok := v.(string); ok {
		writePyQuote(b, s)
		return
	}
	raw, err := marshalNoHTML(v)
	if err != nil {
		writePyQuote(b, fmt.Sprint(v))
		return
	}
	if len(raw) > 0 && (raw[0] == '{' || raw[0] == '[') {
		writeRespaced(b, raw)
		return
	}
	b.Write(raw)
}

// finishDesc is DSPy's description of the finish tool, typo included: the
// real prompts say "infomration".
func finishDesc(sig *Signature) string {
	return "Marks the task as complete. That is, signals that all infomration for producing the outputs, i.e. " +
		backtickList(sig.outputs) + ", are now available to be extracted."
}

// agentInstructions builds the react predictor's instructions as DSPy's
// ReAct does: the task, the agent protocol, and the numbered tool list.
func agentInstructions(sig *Signature, tools []*Tool, native bool) string {
	inputs, outputs := backtickList(sig.inputs), backtickList(sig.outputs)
	lines := []string{
		sig.Instructions() + "\n",
		"You are an Agent. In each episode, you will be given the fields " + inputs + " as input. And you can see your past trajectory so far.",
		"Your goal is to use one or more of the supplied tools to collect any necessary information for producing " + outputs + ".\n",
	}
	if native {
		lines = append(lines,
			"To do this, in each turn you will write next_thought and call one or more of the supplied tools; the calls of one turn run concurrently.",
			"After each tool call, you receive a resulting observation, which gets appended to your trajectory.\n",
			"When writing next_thought, you may reason about the current situation and plan for future steps.",
			"When all information for producing "+outputs+" is available, call the `finish` tool.",
		)
		return strings.Join(lines, "\n")
	}
	lines = append(lines,
		"To do this, you will interleave next_thought, next_tool_name, and next_tool_args in each turn, and also when finishing the task.",
		"After each tool call, you receive a resulting observation, which gets appended to your trajectory.\n",
		"When writing next_thought, you may reason about the current situation and plan for future steps.",
		"When selecting the next_tool_name and its next_tool_args, the tool must be one of:\n",
	)
	for i, t := range tools {
		lines = append(lines, "("+strconv.Itoa(i+1)+") "+describeTool(t.name, t.desc, t.schema.args))
	}
	lines = append(lines, "("+strconv.Itoa(len(tools)+1)+") "+describeTool(finishTool, finishDesc(sig), nil))
	return strings.Join(lines, "\n")
}

// describeTool renders a tool as DSPy's str(Tool) does:
// "name, whose description is <desc>...</desc>. It takes arguments {...} in
// JSON format.", the description left out when empty.
func describeTool(name, desc string, args []ToolArg) string {
	var b strings.Builder
	b.WriteString(name)
	if desc != "" {
		b.WriteString(", whose description is <desc>")
		b.WriteString(strings.ReplaceAll(desc, "\n", "  "))
		b.WriteString("</desc>.")
	} else {
		b.WriteByte('.')
	}
	b.WriteString(" It takes arguments ")
	writeArgsRepr(&b, args)
	b.WriteString(" in JSON format.")
	return b.String()
}

// writeArgsRepr writes the arguments' schemas as the Python repr of DSPy's
// Tool.args: a dict in declaration order of each argument's JSON schema
// (pydantic sorts schema keys), with "description" last.
func writeArgsRepr(b *strings.Builder, args []ToolArg) {
	b.WriteByte('{')
	for i, a := range args {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(pyRepr(a.Name))
		b.WriteString(": {")
		keys := make([]string, 0, len(a.Schema))
		for k := range a.Schema {
			if k != "description" {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for j, k := range keys {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString(pyRepr(k))
			b.WriteString(": ")
			writePyValue(b, a.Schema[k])
		}
		if a.Desc != "" {
			if len(keys) > 0 {
				b.WriteString(", ")
			}
			b.WriteString("'description': ")
			b.WriteString(pyRepr(a.Desc))
		}
		b.WriteByte('}')
	}
	b.WriteByte('}')
}

// decodeToolArgs decodes a native tool call's arguments, a JSON object,
// with numbers as plainNumber gives them: an integer beyond 2^53 (an id, a
// timestamp in ns) reaches the tool as the LM wrote it, not rounded.
func decodeToolArgs(s string) (map[string]any, error) {
	b := []byte(s)
	if !json.Valid(b) {
		var args map[string]any
		return nil, json.Unmarshal(b, &args) // its error names what is wrong
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var args map[string]any
	if err := dec.Decode(&args); err != nil {
		return nil, err
	}
	plainTree(args)
	return args, nil
}

// writePyValue writes a JSON-like value as Python's repr would.
func writePyValue(b *strings.Builder, v any) {
	switch x := v.(type) {
	case nil:
		b.WriteString("None")
	case string:
		b.WriteString(pyRepr(x))
	case bool:
		if x {
			b.WriteString("True")
		} else {
			b.WriteString("False")
		}
	case int:
		b.WriteString(strconv.Itoa(x))
	case int64:
		b.WriteString(strconv.FormatInt(x, 10))
	case uint64:
		b.WriteString(strconv.FormatUint(x, 10))
	case float64:
		b.WriteString(pyFloat(x))
	case json.Number:
		// A tool schema's numbers: an integer stays one, as Python's
		// json.loads keeps it.
		if strings.ContainsAny(string(x), ".eE") {
			f, err := x.Float64()
			if err == nil {
				b.WriteString(pyFloat(f))
				break
			}
		}
		b.WriteString(string(x))
	case []string:
		writePySeq(b, slices.Values(x))
	case []any:
		writePySeq(b, slices.Values(x))
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(pyRepr(k))
			b.WriteString(": ")
			writePyValue(b, x[k])
		}
		b.WriteByte('}')
	default:
		b.WriteString(pyRepr(fmt.Sprint(x)))
	}
}

func writePySeq[T any](b *strings.Builder, items iter.Seq[T]) {
	b.WriteByte('[')
	i := 0
	for it := range items {
		if i > 0 {
			b.WriteString(", ")
		}
		writePyValue(b, it)
		i++
	}
	b.WriteByte(']')
}

// toolCallingLM is the LM of one native-mode react call: it offers the
// tools and keeps the tool calls of the reply (choice 0).
type toolCallingLM struct {
	lm.LM
	tools []lm.ToolSpec

	mu    sync.Mutex
	calls []lm.ToolCall
}

// Unwrap returns the LM that answers.
func (w *toolCallingLM) Unwrap() lm.LM { return w.LM }

func (w *toolCallingLM) request(req *lm.Request) *lm.Request {
	c := req.Clone()
	c.Tools = append(c.Tools, w.tools...)
	if c.ToolChoice == "" {
		c.ToolChoice = "auto"
	}
	return c
}

func (w *toolCallingLM) keep(calls []lm.ToolCall) {
	w.mu.Lock()
	w.calls = calls
	w.mu.Unlock()
}

func (w *toolCallingLM) toolCalls() []lm.ToolCall {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.calls
}

// Generate implements lm.LM.
func (w *toolCallingLM) Generate(ctx context.Context, req *lm.Request) (*lm.Response, error) {
	resp, err := w.LM.Generate(ctx, w.request(req))
	if err == nil && resp != nil && len(resp.Choices) > 0 {
		w.keep(resp.Choices[0].Message.ToolCalls)
	}
	return resp, err
}

// Stream implements lm.LM.
func (w *toolCallingLM) Stream(ctx context.Context, req *lm.Request) iter.Seq2[lm.Chunk, error] {
	return func(yield func(lm.Chunk, error) bool) {
		var acc lm.Accumulator
		for c, err := range w.LM.Stream(ctx, w.request(req)) {
			if err == nil {
				acc.Add(c)
			}
			if !yield(c, err) {
				return
			}
			if err != nil {
				return
			}
		}
		w.keep(acc.Response().Choices[0].Message.ToolCalls)
	}
}

// lenientThought wraps the adapter of a native-mode react call: a reply
// with tool calls often has no fields at all, so text that does not parse
// is the thought itself.
func lenientThought(a Adapter) Adapter {
	if sa, ok := a.(StreamingAdapter); ok {
		return lenientStreamingAdapter{lenientAdapter{a}, sa}
	}
	return lenientAdapter{a}
}

type lenientAdapter struct{ inner Adapter }

func (l lenientAdapter) Format(sig *Signature, demos []Example, in Inputs, req *lm.Request) error {
	return l.inner.Format(sig, demos, in, req)
}

func (l lenientAdapter) Parse(sig *Signature, text string) (map[string]any, error) {
	vals, err := l.inner.Parse(sig, text)
	var pe *ParseError
	if err != nil && errors.As(err, &pe) {
		return map[string]any{"next_thought": strings.TrimSpace(text)}, nil
	}
	return vals, err
}

type lenientStreamingAdapter struct {
	lenientAdapter
	sa StreamingAdapter
}

func (l lenientStreamingAdapter) NewFieldParser(sig *Signature) FieldParser {
	return l.sa.NewFieldParser(sig)
}

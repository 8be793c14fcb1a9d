package main

import (
	"errors"
	"flag"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/godspy/dspy"
	"github.com/godspy/dspy/lm"
	"github.com/godspy/dspy/mcp"
	"github.com/godspy/dspy/streaming"
)

// Allowed values of --module and --adapter, in help order.
var (
	moduleNames  = []string{"predict", "cot", "react"}
	adapterNames = []string{"chat", "json", "xml"}
)

// demoLMName is the --lm value that forces the offline demo LM.
const demoLMName = "demo"

// programFlags are the flags ask and serve share: what program to run on
// which LM.
type programFlags struct {
	module    string
	signature string
	lmName    string
	baseURL   string
	adapter   string
	tools     string
	mcp       mcpFlag
	demoDelay time.Duration
	timeout   time.Duration

	// lmOpts (the LM cache) and limits (--rpm, --tpm, a fleet's quota)
	// apply to the LM: serve's fleet flags set them.
	lmOpts []dspy.LMOption
	limits *lm.Limits

	// traceEvents adds the run's structure (LM calls, tool calls, agent
	// steps) to the stream: serve's page draws it.
	traceEvents bool

	fs *flag.FlagSet // the flags were registered in: which were given
}

// The default signatures: ask answers one question; serve keeps a
// conversation, so its page's "why?" has the earlier turns.
const (
	askSignature  = "question -> answer"
	chatSignature = "question, history: History -> answer"
)

// given reports whether the command line set the flag name.
func (f *programFlags) given(name string) bool {
	found := false
	if f.fs != nil {
		f.fs.Visit(func(fl *flag.Flag) { found = found || fl.Name == name })
	}
	return found
}

// moduleAliases maps DSPy's spellings of the modules, lower-cased and
// without underscores, to --module's values.
var moduleAliases = map[string]string{
	"predict": "predict", "cot": "cot", "chainofthought": "cot", "react": "react",
}

func (f *programFlags) register(fs *flag.FlagSet, signature string) {
	f.fs = fs
	fs.StringVar(&f.module, "module", "cot", "the module: "+strings.Join(moduleNames, ", ")+" (DSPy's names work too, in any case: Predict, ChainOfThought, ReAct; react is an agent with --tools and --mcp)")
	fs.StringVar(&f.signature, "signature", signature, "the program's signature (a History input carries the earlier turns of a conversation)")
	fs.StringVar(&f.lmName, "lm", "", `the LM as provider/model ("openai/gpt-4o-mini", "ollama_chat/llama3.2", ...), or "demo" for the offline demo LM; default: from DSPY_LM or the API key in the environment, else the demo LM`)
	fs.StringVar(&f.baseURL, "base-url", "", "the API root of an OpenAI-compatible server (with --lm openai/MODEL); a server of your own needs no API key")
	fs.StringVar(&f.adapter, "adapter", "chat", "the adapter: "+strings.Join(adapterNames, ", "))
	fs.StringVar(&f.tools, "tools", "calculator,clock", "the tools of --module react, from: "+strings.Join(toolNames, ", ")+" (given alone, it implies --module react)")
	fs.Var(&f.mcp, "mcp", mcpFlagHelp)
	fs.DurationVar(&f.demoDelay, "demo-delay", defaultDemoDelay, "the demo LM's pause between 4-byte chunks")
	fs.DurationVar(&f.timeout, "timeout", 10*time.Minute, "the longest a run may take (0: no limit)")
}

// program is a streamable program built from programFlags.
type program struct {
	flags   programFlags
	sig     *dspy.Signature // as given by --signature
	module  dspy.Module
	stream  *streaming.Program
	model   lm.LM
	lm      lmChoice
	streams []string // the output fields streamed, in order
	notes   []string // what the flags implied, for stderr

	mcpClients []*mcp.Client // of --mcp: close them (program.close)
}

// validate checks the flags' values, naming the allowed ones, and
// settles what they imply; notes say what was implied.
func (f *programFlags) validate() (notes []string, err error) {
	m, ok := moduleAliases[strings.ReplaceAll(strings.ToLower(f.module), "_", "")]
	if !ok {
		return nil, fmt.Errorf("unknown --module %q (allowed: %s, or DSPy's Predict, ChainOfThought, ReAct)", f.module, strings.Join(moduleNames, ", "))
	}
	f.module = m
	if !slices.Contains(adapterNames, f.adapter) {
		return nil, fmt.Errorf("unknown --adapter %q (allowed: %s)", f.adapter, strings.Join(adapterNames, ", "))
	}
	for _, tf := range []string{"tools", "mcp"} {
		if f.module == "react" || !f.given(tf) {
			continue
		}
		if f.given("module") {
			return nil, fmt.Errorf("--%s adds tools to --module react, not --module %s", tf, f.module)
		}
		f.module = "react"
		notes = append(notes, "--"+tf+" given: running a ReAct agent (--module react)")
	}
	if f.demoDelay < 0 {
		return nil, fmt.Errorf("--demo-delay %v is negative", f.demoDelay)
	}
	return notes, nil
}

func (f *programFlags) adapterValue() dspy.Adapter {
	switch f.adapter {
	case "json":
		return dspy.JSONAdapter{}
	case "xml":
		return dspy.XMLAdapter{}
	}
	return dspy.ChatAdapter{}
}

// errUsage marks errors in how the command was called (exit code 2).
var errUsage = errors.New("usage")

// buildProgram makes the program the flags describe, on the LM they (or
// the environment) choose.
func buildProgram(f programFlags, getenv func(string) string) (*program, error) {
	notes, err := f.validate()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errUsage, err)
	}
	sig, err := dspy.ParseSignature(f.signature)
	if se := (*dspy.SignatureError)(nil); errors.As(err, &se) {
		return nil, fmt.Errorf("%w: --signature %q: %s (at byte %d)", errUsage, f.signature, se.Msg, se.Pos)
	} else if err != nil {
		return nil, fmt.Errorf("%w: --signature %q: %w", errUsage, f.signature, err)
	}
	lmOpts := f.lmOpts
	if f.limits != nil {
		lmOpts = append(lmOpts[:len(lmOpts):len(lmOpts)], dspy.WithLimits(*f.limits))
	}
	choice, err := chooseLM(f.lmName, f.baseURL, getenv, lmOpts...)
	if err != nil {
		return nil, err
	}
	model := choice.model
	if model == nil {
		model = newDemoLM(f.demoDelay)
		if f.limits != nil {
			model = lm.Limit(model, *f.limits)
		}
	}
	p := &program{flags: f, sig: sig, model: model, lm: choice, notes: notes}
	opts := []dspy.PredictOption{dspy.WithLM(model), dspy.WithAdapter(f.adapterValue())}
	var listeners []streaming.Listener
	listen := func(field string, o ...streaming.ListenerOption) {
		listeners = append(listeners, streaming.NewListener(field, o...))
		if !slices.Contains(p.streams, field) {
			p.streams = append(p.streams, field)
		}
	}
	switch f.module {
	case "predict":
		p.module = dspy.NewPredict(sig, opts...)
	case "cot":
		p.module = dspy.NewChainOfThought(sig, opts...)
		listen("reasoning")
	case "react":
		tools, err := parseTools(f.tools, time.Now)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", errUsage, err)
		}
		var more []*dspy.Tool
		if p.mcpClients, more, err = mcpTools(f.mcp); err != nil {
			return nil, err
		}
		tools = append(tools, more...)
		p.module = dspy.NewReAct(sig, tools, dspy.WithPredictOptions(opts...))
		listen("next_thought", streaming.WithPredictName("react"), streaming.WithAllowReuse())
		listen("reasoning", streaming.WithPredictName("extract"))
	}
	for _, out := range sig.Outputs() {
		if f.module == "react" {
			listen(out.Name, streaming.WithPredictName("extract"))
		} else {
			listen(out.Name)
		}
	}
	sopts := []streaming.Option{streaming.WithListeners(listeners...), streaming.WithStatus(cliStatus{lm: choice.label})}
	if f.traceEvents {
		sopts = append(sopts, streaming.WithTraceEvents())
	}
	p.stream, err = streaming.Streamify(p.module, sopts...)
	if err != nil {
		return nil, fmt.Errorf("%w: --signature %q with --module %s: %w", errUsage, f.signature, f.module, err)
	}
	return p, nil
}

// cliStatus reports what the program is doing: the module thinking, the LM
// being asked, tools being called.
type cliStatus struct {
	streaming.DefaultStatus
	lm string
}

// ModuleStart names what a top-level module is about to do.
func (s cliStatus) ModuleStart(i dspy.ModuleStartInfo) string {
	switch m := i.Module.(type) {
	case *dspy.ChainOfThought:
		return "Thinking step by step..."
	case *dspy.ReAct:
		names := make([]string, 0, len(m.Tools()))
		for _, t := range m.Tools() {
			names = append(names, t.Name())
		}
		if len(names) == 0 {
			return "Starting the agent (no tools)..."
		}
		return "Starting the agent with tools: " + strings.Join(names, ", ") + "..."
	}
	return ""
}

// LMStart names the LM being asked.
func (s cliStatus) LMStart(dspy.LMStartInfo) string { return "Asking " + s.lm + "..." }

// ToolStart shows the tool and its arguments.
func (s cliStatus) ToolStart(i dspy.ToolStartInfo) string {
	return fmt.Sprintf("Calling tool %s with %s...", i.Tool.Name(), compactJSON(i.Args))
}

// ToolEnd shows the tool's result.
func (s cliStatus) ToolEnd(i dspy.ToolEndInfo) string {
	if i.Err != nil {
		return fmt.Sprintf("Tool %s failed: %v. Querying the LM with the error...", i.Tool.Name(), i.Err)
	}
	return fmt.Sprintf("Tool %s returned %v. Querying the LM with the result...", i.Tool.Name(), i.Result)
}

// inputsFor fills the program's inputs: the question goes to the input
// named "question" (else the first input not set otherwise), extra holds
// --input name=value pairs. A missing or unknown input is a usage error.
func (p *program) inputsFor(question string, extra map[string]string) (dspy.Inputs, error) {
	in := dspy.Inputs{}
	for k, v := range extra {
		if _, ok := p.sig.Input(k); !ok {
			return nil, fmt.Errorf("%w: --input %s: the signature %q has no input %q", errUsage, k, p.sig.String(), k)
		}
		in[k] = v
	}
	for _, f := range p.sig.Inputs() {
		if _, set := in[f.Name]; !set && f.Type.Kind() == dspy.KindHistory {
			in[f.Name] = dspy.History{} // one question: no earlier turns
		}
	}
	target := ""
	if _, ok := p.sig.Input("question"); ok && extra["question"] == "" {
		target = "question"
	} else {
		for _, f := range p.sig.Inputs() {
			if _, set := in[f.Name]; !set {
				target = f.Name
				break
			}
		}
	}
	if target != "" {
		in[target] = question
	}
	var missing []string
	for _, f := range p.sig.Inputs() {
		if v, ok := in[f.Name]; !ok || v == "" {
			missing = append(missing, f.Name)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%w: no value for input %s of %q: give the question as an argument and other inputs with --input name=value", errUsage, strings.Join(missing, ", "), p.sig.String())
	}
	return in, nil
}

// inputFlag collects repeated --input name=value flags.
type inputFlag map[string]string

func (f inputFlag) String() string { return fmt.Sprint(map[string]string(f)) }

func (f inputFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || strings.TrimSpace(k) == "" {
		return fmt.Errorf("%q is not name=value", s)
	}
	f[strings.TrimSpace(k)] = v
	return nil
}

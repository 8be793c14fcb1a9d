package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/godspy/dspy"
	"github.com/godspy/dspy/lm"
	"github.com/godspy/dspy/streaming"
)

// askHelp is the top of "dspy ask --help"; the flags follow.
const askHelp = `Usage: dspy ask [flags] "question"

Runs a program once on the question and streams it: status lines, each
output field as its tokens arrive, then the token usage and the time.
Without --lm, DSPY_LM or a provider's API key it uses an offline demo LM.

Examples:
  dspy ask "What causes ocean tides?"
  dspy ask --module ReAct "What is (17 + 25) * 3?"
  dspy ask --lm ollama_chat/llama3.2 "Why is the sky blue?"
  dspy ask --lm openai/my-model --base-url http://localhost:8000/v1 "Hi"
  dspy ask --signature "text -> summary" --json "A long text..."
  dspy ask --signature "context, question -> answer" --input context="Paris is in France." "Capital of France?"

Flags:
`

// runAsk is "dspy ask": stream one run of the program in the terminal.
func runAsk(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	fs := newFlagSet("ask", `ask [flags] "question"`, stderr)
	var pf programFlags
	pf.register(fs, askSignature)
	jsonOut := fs.Bool("json", false, "print one JSON object per event, a line each (status, chunk, prediction, error, done)")
	extra := inputFlag{}
	fs.Var(extra, "input", "another input field's value, as name=value (repeatable)")
	fs.Usage = func() { fmt.Fprint(fs.Output(), askHelp); fs.PrintDefaults() }
	pos, err := parseFlags(fs, args)
	if err != nil {
		return flagErrorCode(err)
	}
	if len(pos) != 1 {
		fmt.Fprintf(stderr, "dspy ask: want one question argument, got %d (quote the question; dspy ask --help shows examples)\n", len(pos))
		return exitUsage
	}
	if strings.TrimSpace(pos[0]) == "" {
		fmt.Fprintln(stderr, "dspy ask: the question is empty")
		return exitUsage
	}
	prog, err := buildProgram(pf, getenv)
	if err != nil {
		return exitCode(stderr, "ask", err)
	}
	for _, n := range prog.notes {
		fmt.Fprintln(stderr, "dspy ask: "+n)
	}
	defer prog.close()
	in, err := prog.inputsFor(pos[0], extra)
	if err != nil {
		return exitCode(stderr, "ask", err)
	}
	var r renderer = newTextRenderer(stdout, useColor(stdout, getenv))
	if *jsonOut {
		r = &jsonRenderer{enc: json.NewEncoder(stdout)}
	}
	return ask(ctx, prog, in, r, stderr)
}

// ask runs prog on in, rendering each event, and returns the exit code.
func ask(ctx context.Context, prog *program, in dspy.Inputs, r renderer, stderr io.Writer) int {
	if prog.flags.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, prog.flags.timeout)
		defer cancel()
	}
	ctx = dspy.WithSettings(ctx, dspy.WithUsageTracking(true))
	r.banner(prog.lm)
	t := timing{start: time.Now()}
	for ev, err := range prog.stream.Stream(ctx, in) {
		if err != nil {
			return failed(ctx, prog, r, stderr, err, t.since())
		}
		switch e := ev.(type) {
		case *streaming.StatusMessage:
			r.status(e.Message)
		case *streaming.StreamResponse:
			t.token()
			r.chunk(e)
		case *streaming.Final:
			r.final(e.Prediction, t)
		}
	}
	r.done(true, t.since())
	return exitOK
}

// failed reports a run's error on one line of stderr, with a hint where
// one helps: a cancellation (Ctrl-C) as such, with exit code 130, anything
// else with exit code 1. The JSON renderer also puts it in the stream.
func failed(ctx context.Context, prog *program, r renderer, stderr io.Writer, err error, elapsed time.Duration) int {
	cancelled := errors.Is(err, context.Canceled) && ctx.Err() != nil
	if cancelled {
		r.fail("cancelled", true)
		r.done(false, elapsed)
		fmt.Fprintln(stderr, "dspy ask: cancelled: the run and its LM request were stopped")
		return exitCancelled
	}
	msg := runError(ctx, prog, err)
	r.fail(msg, false)
	r.done(false, elapsed)
	fmt.Fprintln(stderr, "dspy ask: "+msg)
	return exitFailed
}

// runError says what went wrong in a run, in one line a person can act on.
func runError(ctx context.Context, prog *program, err error) string {
	if errors.Is(err, context.DeadlineExceeded) && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Sprintf("timed out after %v (--timeout)", prog.flags.timeout)
	}
	provider, _ := lm.Identify(prog.model)
	base := lm.Endpoint(prog.model)
	if errors.Is(err, syscall.ECONNREFUSED) && base != "" {
		if provider == "ollama" {
			return fmt.Sprintf("cannot reach Ollama at %s: is it running? (ollama serve)", base)
		}
		return fmt.Sprintf("cannot reach the LM server at %s: is it running?", base)
	}
	return errorLine(err.Error())
}

// timing measures a run: its start and its first streamed token.
type timing struct {
	start time.Time
	first time.Duration
}

func (t *timing) token() {
	if t.first == 0 {
		t.first = max(time.Since(t.start), time.Nanosecond)
	}
}

func (t *timing) since() time.Duration { return time.Since(t.start) }

// renderer shows a run's events: as text for a person, or as JSON lines.
type renderer interface {
	banner(lmChoice)
	status(msg string)
	chunk(*streaming.StreamResponse)
	final(*dspy.Prediction, timing)
	fail(msg string, cancelled bool)
	done(ok bool, elapsed time.Duration)
}

// useColor reports whether w is a terminal that wants ANSI styles: a
// character device, NO_COLOR unset and TERM not "dumb".
func useColor(w io.Writer, getenv func(string) string) bool {
	f, ok := w.(*os.File)
	if !ok || getenv("NO_COLOR") != "" || getenv("TERM") == "dumb" {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// textRenderer writes for a person: status lines (dimmed on a terminal),
// each streamed field under a header, then the final fields, usage and
// timing.
type textRenderer struct {
	w         io.Writer
	color     bool
	lineStart bool            // the cursor is at the start of a line
	current   string          // the field occurrence being streamed
	shown     map[string]bool // fields whose chunks were shown
}

func newTextRenderer(w io.Writer, color bool) *textRenderer {
	return &textRenderer{w: w, color: color, lineStart: true, shown: map[string]bool{}}
}

func (t *textRenderer) style(code, s string) string {
	if !t.color {
		return s
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}

func (t *textRenderer) dim(s string) string  { return t.style("2", s) }
func (t *textRenderer) bold(s string) string { return t.style("1", s) }

// newline ends the current line if text is on it.
func (t *textRenderer) newline() {
	if !t.lineStart {
		fmt.Fprintln(t.w)
		t.lineStart = true
	}
}

func (t *textRenderer) banner(c lmChoice) {
	fmt.Fprintln(t.w, t.style("33", c.banner))
}

func (t *textRenderer) status(msg string) {
	t.newline()
	t.current = ""
	fmt.Fprintln(t.w, t.dim("· "+msg))
}

func (t *textRenderer) chunk(e *streaming.StreamResponse) {
	key := fmt.Sprintf("%s/%s/%d", e.PredictName, e.SignatureFieldName, e.CallID)
	if key != t.current {
		t.newline()
		fmt.Fprintln(t.w, t.bold(e.SignatureFieldName+":"))
		t.current = key
	}
	t.shown[e.SignatureFieldName] = true
	if e.Chunk != "" {
		fmt.Fprint(t.w, e.Chunk)
		t.lineStart = strings.HasSuffix(e.Chunk, "\n")
	}
	if e.IsLastChunk {
		t.newline()
		t.current = ""
	}
}

// final shows the fields that did not stream (each streamed one is on
// screen already), then the usage and the time.
func (t *textRenderer) final(p *dspy.Prediction, tm timing) {
	t.newline()
	for _, n := range p.Names() {
		if !t.shown[n] {
			fmt.Fprintf(t.w, "%s %s\n", t.bold(n+":"), p.String(n))
		}
	}
	fmt.Fprintln(t.w)
	fmt.Fprintln(t.w, t.dim(usageLine(p.Usage)))
	fmt.Fprintln(t.w, t.dim(timingLine(tm)))
}

// fail ends the output: the error itself goes to stderr, once.
func (t *textRenderer) fail(string, bool) { t.newline() }

func (t *textRenderer) done(bool, time.Duration) {}

func usageLine(u lm.Usage) string {
	if u.IsZero() {
		return "usage: not reported"
	}
	return fmt.Sprintf("usage: %d tokens (%d prompt, %d completion)", u.TotalTokens, u.PromptTokens, u.CompletionTokens)
}

func timingLine(t timing) string {
	s := fmt.Sprintf("time: %.2f s", t.since().Seconds())
	if t.first > 0 {
		s += fmt.Sprintf(", first token after %.2f s", t.first.Seconds())
	}
	return s
}

// jsonRenderer writes one JSON object per event, a line each. Every object
// has "event": lm (first), status, chunk, prediction, error, done (last).
type jsonRenderer struct {
	enc *json.Encoder
}

type jsonEvent struct {
	Event string `json:"event"`
	// lm
	LM   string `json:"lm,omitempty"`
	Demo *bool  `json:"demo,omitempty"`
	// lm and status
	Message string `json:"message,omitempty"`
	// chunk
	PredictName        string  `json:"predict_name,omitempty"`
	SignatureFieldName string  `json:"signature_field_name,omitempty"`
	Chunk              *string `json:"chunk,omitempty"`
	IsLastChunk        *bool   `json:"is_last_chunk,omitempty"`
	// prediction
	Prediction *dspy.Prediction `json:"prediction,omitempty"`
	Usage      *jsonUsage       `json:"usage,omitempty"`
	FirstMS    *int64           `json:"first_token_ms,omitempty"`
	// error
	Error     string `json:"error,omitempty"`
	Cancelled *bool  `json:"cancelled,omitempty"`
	// done
	OK        *bool  `json:"ok,omitempty"`
	ElapsedMS *int64 `json:"elapsed_ms,omitempty"`
}

type jsonUsage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

func ptr[T any](v T) *T { return &v }

func (j *jsonRenderer) emit(e jsonEvent) { _ = j.enc.Encode(e) }

func (j *jsonRenderer) banner(c lmChoice) {
	j.emit(jsonEvent{Event: "lm", LM: c.label, Demo: ptr(c.demo), Message: c.banner})
}

func (j *jsonRenderer) status(msg string) { j.emit(jsonEvent{Event: "status", Message: msg}) }

func (j *jsonRenderer) chunk(e *streaming.StreamResponse) {
	j.emit(jsonEvent{Event: "chunk", PredictName: e.PredictName, SignatureFieldName: e.SignatureFieldName,
		Chunk: ptr(e.Chunk), IsLastChunk: ptr(e.IsLastChunk)})
}

func (j *jsonRenderer) final(p *dspy.Prediction, t timing) {
	u := p.Usage
	e := jsonEvent{Event: "prediction", Prediction: p,
		Usage: &jsonUsage{u.PromptTokens, u.CompletionTokens, u.TotalTokens}}
	if t.first > 0 {
		e.FirstMS = ptr(t.first.Milliseconds())
	}
	j.emit(e)
}

func (j *jsonRenderer) fail(msg string, cancelled bool) {
	j.emit(jsonEvent{Event: "error", Error: msg, Cancelled: ptr(cancelled)})
}

func (j *jsonRenderer) done(ok bool, elapsed time.Duration) {
	j.emit(jsonEvent{Event: "done", OK: ptr(ok), ElapsedMS: ptr(elapsed.Milliseconds())})
}

// compactJSON writes v as compact JSON for a status line.
func compactJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

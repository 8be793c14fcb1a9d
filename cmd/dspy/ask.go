package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/godspy/dspy"
	"github.com/godspy/dspy/lm"
	"github.com/godspy/dspy/streaming"
)

// runAsk is "dspy ask": stream one run of the program in the terminal.
func runAsk(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	fs := newFlagSet("ask", `ask [flags] "question"`, stderr)
	var pf programFlags
	pf.register(fs, askSignature)
	jsonOut := fs.Bool("json", false, "print one JSON object per event, a line each (status, chunk, prediction, error, done)")
	extra := inputFlag{}
	fs.Var(extra, "input", "another input field's value, as name=value (repeatable)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return exitUsage // the flag package has said what was wrong
	}
	if len(pos) != 1 {
		fmt.Fprintf(stderr, "dspy ask: want one question argument, got %d (quote the question)\n", len(pos))
		fs.Usage()
		return exitUsage
	}
	prog, err := buildProgram(pf, getenv)
	if err != nil {
		return exitCode(stderr, "ask", err)
	}
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
			return failed(ctx, r, stderr, err, t.since())
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

// failed reports a run's error: a cancellation (Ctrl-C) as such, with exit
// code 130, anything else as the error it is.
func failed(ctx context.Context, r renderer, stderr io.Writer, err error, elapsed time.Duration) int {
	cancelled := errors.Is(err, context.Canceled) && ctx.Err() != nil
	if cancelled {
		r.fail("cancelled", true)
		r.done(false, elapsed)
		fmt.Fprintln(stderr, "dspy ask: cancelled: the run and its LM request were stopped")
		return exitCancelled
	}
	r.fail(err.Error(), false)
	r.done(false, elapsed)
	fmt.Fprintln(stderr, "dspy ask:", err)
	return exitFailed
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
	lineStart bool   // the cursor is at the start of a line
	current   string // the field occurrence being streamed
}

func newTextRenderer(w io.Writer, color bool) *textRenderer {
	return &textRenderer{w: w, color: color, lineStart: true}
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
	if e.Chunk != "" {
		fmt.Fprint(t.w, e.Chunk)
		t.lineStart = strings.HasSuffix(e.Chunk, "\n")
	}
	if e.IsLastChunk {
		t.newline()
		t.current = ""
	}
}

func (t *textRenderer) final(p *dspy.Prediction, tm timing) {
	t.newline()
	fmt.Fprintln(t.w)
	fmt.Fprintln(t.w, t.bold("Final prediction"))
	for _, n := range p.Names() {
		fmt.Fprintf(t.w, "%s %s\n", t.bold(n+":"), p.String(n))
	}
	fmt.Fprintln(t.w, t.dim(usageLine(p.Usage)))
	fmt.Fprintln(t.w, t.dim(timingLine(tm)))
}

func (t *textRenderer) fail(msg string, cancelled bool) {
	t.newline()
	if cancelled {
		fmt.Fprintln(t.w, t.style("33", "Cancelled."))
		return
	}
	fmt.Fprintln(t.w, t.style("31", "Error: "+msg))
}

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

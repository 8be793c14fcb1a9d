package streaming

import (
	"context"

	"github.com/godspy/dspy"
)

// StatusProvider turns hook events into status messages for the person
// watching the stream: DSPy's StatusMessageProvider. Each method returns the
// message to send, or "" for none. Embed DefaultStatus and override what you
// need. Methods are called on the goroutine doing the work, when the event
// happens, so a message arrives in order with the chunks around it.
type StatusProvider interface {
	LMStart(info dspy.LMStartInfo) string
	LMEnd(info dspy.LMEndInfo) string
	ModuleStart(info dspy.ModuleStartInfo) string
	ModuleEnd(info dspy.ModuleEndInfo) string
	ToolStart(info dspy.ToolStartInfo) string
	ToolEnd(info dspy.ToolEndInfo) string
}

// DefaultStatus gives DSPy's default messages: one when a tool starts and one
// when it ends, nothing for LM and module calls.
type DefaultStatus struct{}

// LMStart returns "".
func (DefaultStatus) LMStart(dspy.LMStartInfo) string { return "" }

// LMEnd returns "".
func (DefaultStatus) LMEnd(dspy.LMEndInfo) string { return "" }

// ModuleStart returns "".
func (DefaultStatus) ModuleStart(dspy.ModuleStartInfo) string { return "" }

// ModuleEnd returns "".
func (DefaultStatus) ModuleEnd(dspy.ModuleEndInfo) string { return "" }

// ToolStart returns "Calling tool NAME...".
func (DefaultStatus) ToolStart(info dspy.ToolStartInfo) string {
	return "Calling tool " + info.Tool.Name() + "..."
}

// ToolEnd returns "Tool calling finished! Querying the LLM with tool calling
// results...".
func (DefaultStatus) ToolEnd(dspy.ToolEndInfo) string {
	return "Tool calling finished! Querying the LLM with tool calling results..."
}

// finishTool is ReAct's internal tool; like DSPy, no status is shown for it.
const finishTool = "finish"

// trace returns the hooks that turn a run's events into status messages.
func (r *run) trace() *dspy.Trace {
	sp := r.prog.status
	if sp == nil {
		sp = DefaultStatus{}
	}
	status := func(msg string) {
		if msg != "" {
			_ = r.send(&StatusMessage{Message: msg}) // fails only when the run is cancelled
		}
	}
	return &dspy.Trace{
		LMStart:     func(_ context.Context, i dspy.LMStartInfo) { status(sp.LMStart(i)) },
		LMEnd:       func(_ context.Context, i dspy.LMEndInfo) { status(sp.LMEnd(i)) },
		ModuleStart: func(_ context.Context, i dspy.ModuleStartInfo) { status(sp.ModuleStart(i)) },
		ModuleEnd:   func(_ context.Context, i dspy.ModuleEndInfo) { status(sp.ModuleEnd(i)) },
		ToolStart: func(_ context.Context, i dspy.ToolStartInfo) {
			if i.Tool == nil || i.Tool.Name() != finishTool {
				status(sp.ToolStart(i))
			}
		},
		ToolEnd: func(_ context.Context, i dspy.ToolEndInfo) {
			if i.Tool == nil || i.Tool.Name() != finishTool {
				status(sp.ToolEnd(i))
			}
		},
	}
}

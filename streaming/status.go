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

// trace returns the hooks that turn a run's events into status messages
// and, with trace events on, into LMStart, ToolCallStart, StepStart ...
// events. A structured event is sent before the status message of the same
// hook.
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
	ev := r.traceEvents
	// Sends fail only when the run is cancelled, which the run notices.
	return &dspy.Trace{
		LMStart: func(_ context.Context, i dspy.LMStartInfo) {
			if ev {
				_ = r.send(&LMStart{PredictName: r.pathOfCall(i.ID, 0), CallID: i.ID, Model: modelOf(i.LM, i.Request)})
			}
			status(sp.LMStart(i))
		},
		LMEnd: func(_ context.Context, i dspy.LMEndInfo) {
			if ev {
				e := &LMEnd{PredictName: r.pathOfCall(i.ID, 0), CallID: i.ID, Model: modelOf(i.LM, nil),
					FirstChunk: i.FirstChunk, Duration: i.Duration, Err: i.Err}
				if resp := i.Response; resp != nil {
					e.CacheHit, e.Usage = resp.CacheHit, resp.Usage
					if resp.Model != "" {
						e.Model = resp.Model
					}
					if len(resp.Choices) > 0 {
						e.FinishReason = resp.Choices[0].FinishReason
					}
				}
				_ = r.send(e)
			}
			r.untrack(i.ID)
			status(sp.LMEnd(i))
		},
		ModuleStart: func(_ context.Context, i dspy.ModuleStartInfo) { status(sp.ModuleStart(i)) },
		ModuleEnd:   func(_ context.Context, i dspy.ModuleEndInfo) { status(sp.ModuleEnd(i)) },
		ToolStart: func(_ context.Context, i dspy.ToolStartInfo) {
			if i.Tool != nil && i.Tool.Name() == finishTool {
				return
			}
			path := r.pathOfCall(i.ParentID, 0) // the agent's step
			r.track(i.ID, path)
			if ev {
				_ = r.send(&ToolCallStart{PredictName: path, CallID: i.ID, ToolCallID: toolCallID(i.ToolCallID, i.ID),
					ToolName: toolName(i.Tool), Args: i.Args})
			}
			status(sp.ToolStart(i))
		},
		ToolEnd: func(_ context.Context, i dspy.ToolEndInfo) {
			if i.Tool != nil && i.Tool.Name() == finishTool {
				return
			}
			if ev {
				_ = r.send(&ToolCallEnd{PredictName: r.pathOfCall(i.ID, 0), CallID: i.ID, ToolCallID: toolCallID(i.ToolCallID, i.ID),
					ToolName: toolName(i.Tool), Result: i.Result, Err: i.Err, Duration: i.Duration})
			}
			r.untrack(i.ID)
			status(sp.ToolEnd(i))
		},
		StepStart: func(_ context.Context, i dspy.StepStartInfo) {
			path := r.agentPath(i.Module)
			r.track(i.ID, path)
			if ev {
				_ = r.send(&StepStart{PredictName: path, CallID: i.ID, Index: i.Index})
			}
		},
		StepEnd: func(_ context.Context, i dspy.StepEndInfo) {
			if ev {
				_ = r.send(&StepEnd{PredictName: r.pathOfCall(i.ID, 0), CallID: i.ID, Index: i.Index, Done: i.Done, Err: i.Err})
			}
			r.untrack(i.ID)
		},
	}
}

// agentPath is the path of an agent's predictor ("react"), "" when the
// agent is not a ReAct of this program.
func (r *run) agentPath(m dspy.Module) string {
	if a, ok := m.(*dspy.ReAct); ok {
		return r.prog.pathOf[a.ReactPredictor()]
	}
	return ""
}

func toolCallID(id string, hookID uint64) string {
	if id != "" {
		return id
	}
	return textToolCallID(hookID)
}

func toolName(t *dspy.Tool) string {
	if t == nil {
		return ""
	}
	return t.Name()
}

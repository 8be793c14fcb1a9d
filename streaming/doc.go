// Package streaming turns any godspy program into a stream: per output field,
// the text chunks the LM writes, as it writes them; status messages from the
// LM, module and tool hooks; and the final Prediction.
//
//	prog, err := streaming.Streamify(dspy.NewChainOfThought("question -> answer"),
//		streaming.WithListeners(streaming.NewListener("answer")),
//		streaming.WithStatus(myStatus{}))
//	for ev, err := range prog.Stream(ctx, dspy.Inputs{"question": "What causes tides?"}) {
//		if err != nil {
//			return err
//		}
//		switch e := ev.(type) {
//		case *streaming.StatusMessage:
//			fmt.Println("[", e.Message, "]")
//		case *streaming.StreamResponse:
//			fmt.Print(e.Chunk)
//		case *streaming.Final:
//			fmt.Println("\n", e.Prediction.Get("answer"))
//		}
//	}
//
// Stream is the synchronous style (a range loop); Chan serves select loops;
// Handler serves a program over HTTP as server-sent events (docs/sse.md is
// the wire format); UIMessageHandler serves it to the Vercel AI SDK's
// useChat.
//
// # Resumable streams
//
// With WithResume(runs), Handler's runs outlive their requests: each
// stream's events are kept in a resume.Store (the memory store for one
// process, redisresume for a fleet) under a stream id, a client that
// reconnects with Last-Event-ID, to any replica, reads the rest with no
// gap and no duplicate, and a stop request reaches the run wherever it
// runs. Runs, from NewRuns, owns those runs: it bounds how many go on and
// for how long, and Shutdown cancels them and waits for them.
//
// # Trace events
//
// WithTraceEvents adds the run's structure, for a UI's timeline: LMStart
// and LMEnd (model, cache hit, time to first token, duration, finish
// reason, usage), ToolCallStart, ToolCallDelta (native tool calling: the
// arguments as the LM writes them) and ToolCallEnd (result or error,
// duration), StepStart and StepEnd around each ReAct iteration. A module or
// tool sends its own payloads with Emit, as Custom events. DSPy's events
// are unchanged; a consumer that type-switches on them sees the same
// stream. The Final prediction's Usage is the sum over all the run's LM
// calls.
//
// # Listener contract
//
// For every way the LM's reply is cut into chunks: the Chunks of one field
// occurrence concatenate to exactly the field's parsed value; exactly the
// last of them has IsLastChunk (also when the end marker never comes); no
// adapter marker text appears in a chunk; and text is held back only while
// it could still be the start of an end marker.
package streaming

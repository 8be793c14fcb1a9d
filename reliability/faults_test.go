package reliability

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/godspy/dspy"
	"github.com/godspy/dspy/dspytest"
	"github.com/godspy/dspy/lm"
	"github.com/godspy/dspy/lm/anthropic"
	"github.com/godspy/dspy/lm/openai"
	"github.com/godspy/dspy/streaming"
)

// The answer every fault test asks for, and the reply that carries it.
const answer = "alpha beta gamma delta epsilon zeta eta theta iota kappa"

var reply = dspytest.ChatReply("answer", answer)

// chunkBytes cuts the reply so that the first chunk holds the field
// marker and some of the answer: a fault "after the first chunk" strikes
// when the caller has already been handed part of the answer.
const chunkBytes = 40

// checkPartial checks that nothing the caller was handed is lost: the
// streamed chunks are a non-empty prefix of the answer, and err is an
// *lm.StreamError whose Partial text holds at least what was streamed.
func checkPartial(t *testing.T, o outcome) *lm.StreamError {
	t.Helper()
	var se *lm.StreamError
	if !errors.As(o.err, &se) {
		t.Fatalf("err = %T %v, want an *lm.StreamError", o.err, o.err)
	}
	if o.streamed == "" || !strings.HasPrefix(answer, o.streamed) {
		t.Errorf("streamed %q, want a non-empty prefix of %q", o.streamed, answer)
	}
	partial := se.Partial.Text()
	if !strings.HasPrefix(reply, partial) {
		t.Errorf("Partial %q is not a prefix of the reply %q", partial, reply)
	}
	if got := strings.TrimPrefix(partial, "[[ ## answer ## ]]\n"); !strings.HasPrefix(got, o.streamed) {
		t.Errorf("Partial's answer %q does not hold the streamed %q", got, o.streamed)
	}
	if o.last || o.final != nil {
		t.Errorf("a failed stream ended the field (last %v) or gave a Final (%v)", o.last, o.final)
	}
	if msg := streaming.UserMessage(o.err); msg == "internal error" {
		t.Errorf("UserMessage(%v) = %q: a provider failure must read as one", o.err, msg)
	}
	return se
}

// checkComplete checks a stream that succeeded: the whole answer streamed
// and ended, and the Final prediction has it.
func checkComplete(t *testing.T, o outcome) {
	t.Helper()
	if o.err != nil {
		t.Fatalf("stream failed: %v", o.err)
	}
	if o.streamed != answer || !o.last {
		t.Errorf("streamed %q (last %v), want %q", o.streamed, o.last, answer)
	}
	if o.final == nil || o.final.Get("answer") != answer {
		t.Errorf("Final = %v, want answer %q", o.final, answer)
	}
}

func faultAnswers(f dspytest.Fault, n int, retryAfter time.Duration) []dspytest.Answer {
	a := make([]dspytest.Answer, n)
	for i := range a {
		a[i] = dspytest.Answer{Text: reply, Fault: f, RetryAfter: retryAfter}
	}
	return a
}

// TestFaultRetriedBeforeFirstChunk: faults that strike before any output
// are retried, as the policy allows, and the caller gets the whole answer;
// a storm longer than the retry budget ends in a typed error and no
// output. Both through Predict streamed (Streamify) and Predict.Call.
func TestFaultRetriedBeforeFirstChunk(t *testing.T) {
	const retryAfter = 25 * time.Millisecond
	tests := []struct {
		name  string
		fault dspytest.Fault
		is    error // what the caller matches when the storm outlasts the retries
		// minWait is the least a recovered call must take: Retry-After is
		// honoured, not the policy's 1 ms backoff.
		minWait time.Duration
	}{
		{"429 storm with Retry-After", dspytest.FaultRateLimit, lm.ErrRateLimited, 3 * retryAfter},
		{"5xx burst", dspytest.FaultServerError, lm.ErrServer, 0},
		{"connection reset before the first chunk", dspytest.FaultResetBeforeFirstChunk, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Three faults, then the answer: 4 requests, all retried.
			srv := dspytest.NewServer(dspytest.WithChunkBytes(chunkBytes),
				dspytest.WithAnswers(append(faultAnswers(tt.fault, 3, retryAfter), dspytest.Answer{Text: reply})...))
			defer srv.Close()
			model := newClient(t, srv.URL())
			start := time.Now()
			o := streamAnswer(t.Context(), model)
			waited := time.Since(start)
			checkComplete(t, o)
			if n := len(srv.Requests()); n != 4 {
				t.Errorf("stream: %d requests, want 4 (3 faults retried)", n)
			}
			if waited < tt.minWait {
				t.Errorf("stream recovered after %v, want ≥ %v (Retry-After)", waited, tt.minWait)
			}

			// The blocking path retries the same way.
			srv.Enqueue(append(faultAnswers(tt.fault, 3, retryAfter), dspytest.Answer{Text: reply})...)
			pred, err := dspy.NewPredict("question -> answer", dspy.WithLM(model)).Call(t.Context(), dspy.Inputs{"question": "q"})
			if err != nil || pred.Get("answer") != answer {
				t.Fatalf("Call = %v, %v", pred, err)
			}
			if n := len(srv.Requests()); n != 8 {
				t.Errorf("Call: %d requests in all, want 8", n)
			}

			// A storm that outlasts the budget: 1 + 4 retries, then the
			// caller gets the typed error and no output.
			srv.Enqueue(faultAnswers(tt.fault, 5, retryAfter)...)
			o = streamAnswer(t.Context(), model)
			if o.err == nil || o.chunks != 0 || o.final != nil {
				t.Fatalf("storm: err %v after %d chunks, final %v", o.err, o.chunks, o.final)
			}
			var se *lm.StreamError
			if errors.As(o.err, &se) {
				t.Errorf("storm: err = %v, a StreamError before any output", o.err)
			}
			if tt.is != nil && !errors.Is(o.err, tt.is) {
				t.Errorf("storm: err = %v, want errors.Is %v", o.err, tt.is)
			}
			var api *lm.APIError
			if tt.is != nil && (!errors.As(o.err, &api) || api.RequestID == "") {
				t.Errorf("storm: err = %v, want an *lm.APIError with the request id", o.err)
			}
			if tt.is == nil && !lm.Retryable(o.err) {
				t.Errorf("storm: err = %v, want a connection error", o.err)
			}
			if n := len(srv.Requests()); n != 13 {
				t.Errorf("storm: %d requests in all, want 13 (5 for the storm)", n)
			}
			if !waitFor(2*time.Second, func() bool { return srv.Active() == 0 }) {
				t.Errorf("%d requests still active", srv.Active())
			}
			what := "retried 3×, whole answer streamed, 4 requests; storm of 5: 1+4 requests, then "
			if tt.is != nil {
				what += fmt.Sprintf("`errors.Is(err, lm.%s)`, `*lm.APIError` with request id", sentinelName(tt.is))
			} else {
				what += "a connection error (`lm.Retryable`)"
			}
			if tt.minWait > 0 {
				what += "; waits follow Retry-After"
			}
			row(t, areaFault, tt.name+" (stream and Call)", what+"; no chunk streamed before the error")
		})
	}
}

func sentinelName(err error) string {
	switch err {
	case lm.ErrRateLimited:
		return "ErrRateLimited"
	case lm.ErrServer:
		return "ErrServer"
	case lm.ErrMalformed:
		return "ErrMalformed"
	case lm.ErrStreamIdle:
		return "ErrStreamIdle"
	}
	return err.Error()
}

// TestFaultAfterFirstChunk: a fault after output reached the caller ends
// the stream with an *lm.StreamError holding what arrived; it is never
// retried (a retry would repeat or contradict what the user saw).
func TestFaultAfterFirstChunk(t *testing.T) {
	tests := []struct {
		name  string
		fault dspytest.Fault
		check func(err error) bool
		want  string
	}{
		{"connection reset after the first chunk", dspytest.FaultResetAfterFirstChunk, func(err error) bool {
			return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.ErrUnexpectedEOF)
		}, "`syscall.ECONNRESET` or `io.ErrUnexpectedEOF`"},
		{"stalled stream, 150 ms idle timeout", dspytest.FaultStall, func(err error) bool {
			return errors.Is(err, lm.ErrStreamIdle)
		}, "`lm.ErrStreamIdle`"},
		{"malformed chunk JSON", dspytest.FaultMalformedChunk, func(err error) bool {
			return errors.Is(err, lm.ErrMalformed)
		}, "`lm.ErrMalformed`"},
		{"error event mid-stream", dspytest.FaultErrorChunk, func(err error) bool {
			var api *lm.APIError
			return errors.Is(err, lm.ErrServer) && errors.As(err, &api) && api.StatusCode == 0
		}, "`lm.ErrServer`, `*lm.APIError` (status 0)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The fault, then a good answer a wrong retry would take.
			srv := dspytest.NewServer(dspytest.WithChunkBytes(chunkBytes),
				dspytest.WithAnswers(dspytest.Answer{Text: reply, Fault: tt.fault}, dspytest.Answer{Text: reply}))
			defer srv.Close()
			model := newClient(t, srv.URL(), openai.WithIdleTimeout(150*time.Millisecond))
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			start := time.Now()
			o := streamAnswer(ctx, model)
			took := time.Since(start)
			checkPartial(t, o)
			if !tt.check(o.err) {
				t.Errorf("err = %v, want %s", o.err, tt.want)
			}
			if n := len(srv.Requests()); n != 1 {
				t.Errorf("%d requests, want 1: no retry after output", n)
			}
			if tt.fault == dspytest.FaultStall {
				if took > 3*time.Second {
					t.Errorf("stall ended after %v, want about the idle timeout", took)
				}
				if !waitFor(2*time.Second, func() bool { return srv.Disconnects() == 1 }) {
					t.Errorf("server saw %d disconnects, want the stalled request cancelled", srv.Disconnects())
				}
			}
			if !waitFor(2*time.Second, func() bool { return srv.Active() == 0 }) {
				t.Errorf("%d requests still active", srv.Active())
			}
			row(t, areaFault, tt.name, fmt.Sprintf("%s in an `*lm.StreamError`; streamed chunks are a prefix of the answer and `Partial` holds them; 1 request (no retry after output); no `IsLastChunk`, no Final", tt.want))
		})
	}
}

// TestFaultStallBeforeFirstChunk: a stream that sends its headers and
// then nothing ends at the idle timeout with lm.ErrStreamIdle; the timeout
// is not among the retried conditions (429, 5xx, connection errors), so
// the caller decides.
func TestFaultStallBeforeFirstChunk(t *testing.T) {
	srv := dspytest.NewServer(dspytest.WithAnswers(dspytest.Answer{Fault: dspytest.FaultStall}, dspytest.Answer{Text: reply}))
	defer srv.Close()
	model := newClient(t, srv.URL(), openai.WithIdleTimeout(150*time.Millisecond))
	o := streamAnswer(t.Context(), model)
	var se *lm.StreamError
	if !errors.Is(o.err, lm.ErrStreamIdle) || errors.As(o.err, &se) || o.chunks != 0 {
		t.Errorf("err = %v after %d chunks, want lm.ErrStreamIdle and no StreamError", o.err, o.chunks)
	}
	if n := len(srv.Requests()); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
	if !waitFor(2*time.Second, func() bool { return srv.Disconnects() == 1 && srv.Active() == 0 }) {
		t.Errorf("server: %d disconnects, %d active; want the stalled request cancelled", srv.Disconnects(), srv.Active())
	}
	row(t, areaFault, "stall after the headers, before any chunk (150 ms idle timeout)", "`lm.ErrStreamIdle` (no `StreamError`: nothing was delivered); the stalled request cancelled; not retried (1 request)")
}

// TestFaultOversizedLine: a provider that sends an endless SSE line is cut
// off at the client's line limit with lm.ErrMalformed, without buffering
// the line: the heap does not grow by anything near its size.
func TestFaultOversizedLine(t *testing.T) {
	const (
		maxLine = 64 << 10
		sent    = 64 << 20 // what the server would send, if read
	)
	for _, after := range []bool{false, true} {
		name := map[bool]string{false: "before the first chunk", true: "after the first chunk"}[after]
		t.Run(name, func(t *testing.T) {
			fill := []byte(strings.Repeat("x", 32<<10))
			srv := newRawServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/event-stream")
				if after && sseWrite(w, chunkJSON(reply[:chunkBytes])) != nil {
					return
				}
				if _, err := w.Write([]byte(`data: {"choices":[{"index":0,"delta":{"content":"`)); err != nil {
					return
				}
				for i := 0; i < sent/len(fill); i++ {
					if _, err := w.Write(fill); err != nil {
						return
					}
				}
			})
			model := newClient(t, srv.URL, openai.WithMaxLineSize(maxLine))
			runtime.GC()
			var before, after_ runtime.MemStats
			runtime.ReadMemStats(&before)
			o := streamAnswer(t.Context(), model)
			runtime.ReadMemStats(&after_)
			allocated := after_.TotalAlloc - before.TotalAlloc
			if !errors.Is(o.err, lm.ErrMalformed) {
				t.Errorf("err = %v, want lm.ErrMalformed", o.err)
			}
			if after {
				checkPartial(t, o)
			} else if o.chunks != 0 {
				t.Errorf("%d chunks streamed", o.chunks)
			}
			if n := srv.requests.Load(); n != 1 {
				t.Errorf("%d requests, want 1 (bad bytes are not retried)", n)
			}
			// The whole run, client and test server, allocates far less
			// than the line: the decoder stops at maxLine.
			if allocated > 16<<20 {
				t.Errorf("allocated %d MiB during the call, want < 16 MiB for a %d MiB line cut at %d KiB", allocated>>20, sent>>20, maxLine>>10)
			}
			row(t, areaFault, "oversized SSE line (64 MiB offered, 64 KiB limit) "+name,
				"`lm.ErrMalformed`"+map[bool]string{false: "", true: " in an `*lm.StreamError` with the partial text"}[after]+"; 1 request; < 16 MiB allocated in all (the line is not buffered)")
		})
	}
}

// TestFaultOversizedLineAnthropic: the Anthropic client cuts an endless
// line at its default limit (8 MiB) with lm.ErrMalformed too.
func TestFaultOversizedLineAnthropic(t *testing.T) {
	fill := []byte(strings.Repeat("x", 32<<10))
	srv := newRawServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		if _, err := w.Write([]byte("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"")); err != nil {
			return
		}
		for range (32 << 20) / len(fill) {
			if _, err := w.Write(fill); err != nil {
				return
			}
		}
	})
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	model := anthropic.New("claude", anthropic.WithBaseURL(srv.URL), anthropic.WithAPIKey(testKey),
		anthropic.WithHTTPClient(&http.Client{Transport: tr}), anthropic.WithRetry(fastRetry))
	o := streamAnswer(t.Context(), model)
	if !errors.Is(o.err, lm.ErrMalformed) || o.chunks != 0 {
		t.Errorf("err = %v after %d chunks, want lm.ErrMalformed", o.err, o.chunks)
	}
	if n := srv.requests.Load(); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
	row(t, areaFault, "Anthropic: oversized SSE line (32 MiB offered, 8 MiB default limit)", "`lm.ErrMalformed`; 1 request")
}

// TestFaultCloseWithoutDone: a server that closes the stream without
// [DONE]. After a finish reason the answer is complete; before one it is
// an io.ErrUnexpectedEOF with the partial text kept; before any chunk
// the request is retried.
func TestFaultCloseWithoutDone(t *testing.T) {
	t.Run("after the finish reason", func(t *testing.T) {
		srv := newRawServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/event-stream")
			for _, p := range dspytest.Split(reply, chunkBytes) {
				sseWrite(w, chunkJSON(p))
			}
			sseWrite(w, finishJSON)
		})
		o := streamAnswer(t.Context(), newClient(t, srv.URL))
		checkComplete(t, o)
		if n := srv.requests.Load(); n != 1 {
			t.Errorf("%d requests", n)
		}
		row(t, areaFault, "close without [DONE], after the finish reason", "complete answer, no error; 1 request")
	})
	t.Run("before the finish reason", func(t *testing.T) {
		srv := newRawServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/event-stream")
			sseWrite(w, chunkJSON(reply[:chunkBytes]))
		})
		o := streamAnswer(t.Context(), newClient(t, srv.URL))
		checkPartial(t, o)
		if !errors.Is(o.err, io.ErrUnexpectedEOF) {
			t.Errorf("err = %v, want io.ErrUnexpectedEOF", o.err)
		}
		if n := srv.requests.Load(); n != 1 {
			t.Errorf("%d requests, want 1: no retry after output", n)
		}
		row(t, areaFault, "close without [DONE], mid-answer", "`io.ErrUnexpectedEOF` in an `*lm.StreamError` with the partial text; 1 request (no retry after output)")
	})
	t.Run("before the first chunk", func(t *testing.T) {
		srv := newRawServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/event-stream")
			if n == 0 {
				http.NewResponseController(w).Flush() // headers, then nothing
				return
			}
			for _, p := range dspytest.Split(reply, chunkBytes) {
				sseWrite(w, chunkJSON(p))
			}
			sseWrite(w, finishJSON)
			sseWrite(w, "[DONE]")
		})
		o := streamAnswer(t.Context(), newClient(t, srv.URL))
		checkComplete(t, o)
		if n := srv.requests.Load(); n != 2 {
			t.Errorf("%d requests, want 2 (the empty stream retried)", n)
		}
		row(t, areaFault, "close without [DONE], before any chunk", "retried (nothing was delivered); whole answer; 2 requests")
	})
}

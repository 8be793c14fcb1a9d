package reliability

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/godspy/dspy"
	"github.com/godspy/dspy/lm"
	"github.com/godspy/dspy/lm/openai"
	"github.com/godspy/dspy/streaming"
)

// fastRetry is the policy of the fault tests: four retries with
// millisecond backoff, so a retry storm costs milliseconds, not seconds.
var fastRetry = lm.RetryPolicy{MaxRetries: 4, BaseDelay: time.Millisecond, MaxDelay: 4 * time.Millisecond}

// testKey is the API key of tests that do not look for leaks.
const testKey = "sk-test-not-secret"

// newClient returns an OpenAI-wire client of url with its own transport,
// closed when the test ends so no connection goroutine outlives it.
func newClient(t testing.TB, url string, opts ...openai.Option) *openai.Client {
	t.Helper()
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	t.Cleanup(tr.CloseIdleConnections)
	base := []openai.Option{openai.WithBaseURL(url), openai.WithAPIKey(testKey),
		openai.WithHTTPClient(&http.Client{Transport: tr}), openai.WithRetry(fastRetry)}
	return openai.New("test-model", append(base, opts...)...)
}

// outcome is what a caller of a streamed Predict saw.
type outcome struct {
	streamed string // the "answer" StreamResponse chunks, joined
	chunks   int
	last     bool // a chunk had IsLastChunk
	final    *dspy.Prediction
	err      error
}

// streamAnswer runs Predict("question -> answer") on model, streamified
// with a listener on answer, and collects what the caller sees.
func streamAnswer(ctx context.Context, model lm.LM) outcome {
	prog := streaming.MustStreamify(dspy.NewPredict("question -> answer", dspy.WithLM(model)),
		streaming.WithListeners(streaming.NewListener("answer")))
	var o outcome
	var b strings.Builder
	for ev, err := range prog.Stream(ctx, dspy.Inputs{"question": "What is next?"}) {
		if err != nil {
			o.err = err
			continue
		}
		switch e := ev.(type) {
		case *streaming.StreamResponse:
			b.WriteString(e.Chunk)
			o.chunks++
			o.last = o.last || e.IsLastChunk
		case *streaming.Final:
			o.final = e.Prediction
		}
	}
	o.streamed = b.String()
	return o
}

// chunkJSON is one OpenAI chat.completion.chunk carrying text.
func chunkJSON(text string) string {
	b, _ := json.Marshal(text)
	return fmt.Sprintf(`{"id":"chatcmpl-raw","object":"chat.completion.chunk","model":"m","choices":[{"index":0,"delta":{"content":%s},"finish_reason":null}]}`, b)
}

const finishJSON = `{"id":"chatcmpl-raw","object":"chat.completion.chunk","model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`

// rawServer serves POST requests with f, counting them, for faults that
// dspytest.Server does not make (an oversized line, a close without
// [DONE]). f gets the request's number, from 0.
type rawServer struct {
	*httptest.Server
	requests atomic.Int32
}

func newRawServer(t *testing.T, f func(n int, w http.ResponseWriter, r *http.Request)) *rawServer {
	t.Helper()
	s := &rawServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := int(s.requests.Add(1)) - 1
		f(n, w, r)
	}))
	t.Cleanup(func() {
		s.CloseClientConnections()
		s.Close()
	})
	return s
}

// sseWrite writes one "data:" event and flushes it.
func sseWrite(w http.ResponseWriter, data string) error {
	if _, err := fmt.Fprintf(w, "data: %s\n\n", data); err != nil {
		return err
	}
	return http.NewResponseController(w).Flush()
}

// waitFor polls cond until it holds or d passes, and reports which.
func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

package streaming_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/godspy/dspy"
	"github.com/godspy/dspy/lm"
	"github.com/godspy/dspy/lm/openai"
	"github.com/godspy/dspy/streaming"
)

// sseBody is a chat-completions stream whose content is a ChatAdapter reply
// of n word tokens, one SSE chunk per token.
func sseBody(n int) (body string, tokens []string) {
	tokens = append(tokens, "[[ ## answer ## ]]\n")
	for i := range n {
		tokens = append(tokens, fmt.Sprintf(" w%d", i))
	}
	tokens = append(tokens, "\n\n[[ ## completed ## ]]")
	var b strings.Builder
	for _, tok := range tokens {
		b.WriteString(`data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":`)
		b.WriteString(strconv.Quote(tok))
		b.WriteString(`},"finish_reason":null}]}` + "\n\n")
	}
	b.WriteString(`data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1700000000,"model":"gpt-4o-mini","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}` + "\n\n")
	b.WriteString("data: [DONE]\n\n")
	return b.String(), tokens
}

func bodyServer(body string) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.Write([]byte(body))
	}))
}

// BenchmarkStreamProviderOnly is the baseline: the OpenAI-wire client reading
// a 2,000-chunk stream from a local server, no listener.
func BenchmarkStreamProviderOnly(b *testing.B) {
	const n = 2000
	body, _ := sseBody(n)
	srv := bodyServer(body)
	defer srv.Close()
	model := openai.New("gpt-4o-mini", openai.WithBaseURL(srv.URL+"/v1"), openai.WithAPIKey("sk-bench"))
	b.ReportAllocs()
	startCPU := cpuTime()
	for b.Loop() {
		for _, err := range model.Stream(context.Background(), &lmReq) {
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(cpuTime()-startCPU)/float64(b.N*(n+2)), "cpu-ns/chunk")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*(n+2)), "wall-ns/chunk")
}

// BenchmarkStreamChatListener reads the same stream through Streamify with a
// ChatAdapter listener on "answer": parsing, routing and event delivery on
// top of the provider.
func BenchmarkStreamChatListener(b *testing.B) {
	benchChatListener(b)
}

// BenchmarkStreamChatListenerTraceEvents is BenchmarkStreamChatListener
// with the trace events on (LMStart, LMEnd; tool-call deltas watched per
// chunk): their per-chunk cost.
func BenchmarkStreamChatListenerTraceEvents(b *testing.B) {
	benchChatListener(b, streaming.WithTraceEvents())
}

func benchChatListener(b *testing.B, opts ...streaming.Option) {
	const n = 2000
	body, _ := sseBody(n)
	srv := bodyServer(body)
	defer srv.Close()
	model := openai.New("gpt-4o-mini", openai.WithBaseURL(srv.URL+"/v1"), openai.WithAPIKey("sk-bench"))
	prog := streaming.MustStreamify(dspy.NewPredict("question -> answer"), append(opts, streaming.WithListeners(streaming.NewListener("answer")))...)
	ctx := dspy.WithSettings(context.Background(), dspy.WithLM(model))
	in := dspy.Inputs{"question": "q"}
	b.ReportAllocs()
	startCPU := cpuTime()
	for b.Loop() {
		for _, err := range prog.Stream(ctx, in) {
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(cpuTime()-startCPU)/float64(b.N*(n+2)), "cpu-ns/chunk")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*(n+2)), "wall-ns/chunk")
}

// BenchmarkStreamLatency measures, over loopback, the time from the server
// writing a token's chunk to the consumer receiving the StreamResponse that
// carries it, with 1 ms between chunks. Reported: p50 and p99 in µs.
func BenchmarkStreamLatency(b *testing.B) {
	const n = 500
	_, tokens := sseBody(n)
	var mu sync.Mutex
	var written []time.Time
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		rc := http.NewResponseController(w)
		for i, tok := range tokens {
			time.Sleep(time.Millisecond)
			chunk := `data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":` + strconv.Quote(tok) + `},"finish_reason":null}]}` + "\n\n"
			mu.Lock()
			written[i] = time.Now()
			mu.Unlock()
			w.Write([]byte(chunk))
			rc.Flush()
		}
		w.Write([]byte(`data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}` + "\n\ndata: [DONE]\n\n"))
	}))
	defer srv.Close()
	model := openai.New("m", openai.WithBaseURL(srv.URL+"/v1"), openai.WithAPIKey("sk-bench"))
	prog := streaming.MustStreamify(dspy.NewPredict("question -> answer"), streaming.WithListeners(streaming.NewListener("answer")))
	ctx := dspy.WithSettings(context.Background(), dspy.WithLM(model))
	var lat []time.Duration
	for b.Loop() {
		written = make([]time.Time, len(tokens))
		for ev, err := range prog.Stream(ctx, dspy.Inputs{"question": "q"}) {
			if err != nil {
				b.Fatal(err)
			}
			sr, ok := ev.(*streaming.StreamResponse)
			if !ok {
				continue
			}
			now := time.Now()
			// The chunk " w17" carries token 18 (token 0 is the header).
			for _, w := range strings.Fields(sr.Chunk) {
				if i, err := strconv.Atoi(strings.TrimPrefix(w, "w")); err == nil {
					mu.Lock()
					lat = append(lat, now.Sub(written[i+1]))
					mu.Unlock()
				}
			}
		}
	}
	slices.Sort(lat)
	if len(lat) > 0 {
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	}
}

var lmReq = lmRequest()

func lmRequest() lm.Request {
	return lm.Request{Messages: []lm.Message{{Role: lm.RoleUser, Content: "q"}}}
}

// cpuTime is the process's user+system CPU time in ns: with the producer
// and the consumer on different goroutines, wall time hides CPU spent.
func cpuTime() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

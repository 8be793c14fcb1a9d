package streaming_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/godspy/dspy"
	"github.com/godspy/dspy/internal/redistest"
	"github.com/godspy/dspy/lm/openai"
	"github.com/godspy/dspy/streaming"
	"github.com/godspy/dspy/streaming/resume"
	"github.com/godspy/dspy/streaming/resume/redisresume"
)

// BenchmarkHandlerResume is one run of 2,000 chunks through Handler, the
// client reading the whole stream over loopback, with no store (a run
// that ends with its request), the memory store and the Redis store
// (DSPY_TEST_REDIS): what a resumable stream costs per chunk event. The
// provider, the Handler and the client share the process, so the
// figures are the whole path's; the differences are the store's.
func BenchmarkHandlerResume(b *testing.B) {
	for _, tt := range []struct {
		name  string
		store func(b *testing.B) resume.Store
	}{
		{"none", nil},
		{"memory", func(*testing.B) resume.Store { return resume.NewMemory() }},
		{"redis", func(b *testing.B) resume.Store {
			addr := redistest.Addr(b)
			s, err := redisresume.Open("redis://"+addr+"/0", redisresume.WithPrefix(redistest.Prefix(b, addr)))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { s.Close() })
			return s
		}},
	} {
		b.Run(tt.name, func(b *testing.B) {
			const n = 2000
			body, _ := sseBody(n)
			lmSrv := bodyServer(body)
			defer lmSrv.Close()
			model := openai.New("gpt-4o-mini", openai.WithBaseURL(lmSrv.URL+"/v1"), openai.WithAPIKey("sk-bench"))
			prog := streaming.MustStreamify(dspy.NewPredict("question -> answer"), streaming.WithListeners(streaming.NewListener("answer")))
			var opts []streaming.HandlerOption
			if tt.store != nil {
				runs := streaming.NewRuns(tt.store(b))
				defer runs.Shutdown(context.Background())
				opts = append(opts, streaming.WithResume(runs))
			}
			h := withLMServer(streaming.Handler(prog, opts...), model)
			mux := http.NewServeMux()
			mux.Handle("/v1/stream", h)
			mux.Handle("/v1/stream/{id}", h)
			srv := httptest.NewServer(mux)
			defer srv.Close()
			client := srv.Client()
			events := 0
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			mallocs := ms.Mallocs
			b.ReportAllocs()
			for b.Loop() {
				resp, err := client.Post(srv.URL+"/v1/stream", "application/json", strings.NewReader(`{"question": "q"}`))
				if err != nil {
					b.Fatal(err)
				}
				br := bufio.NewReaderSize(resp.Body, 64<<10)
				got := 0
				for {
					line, err := br.ReadSlice('\n')
					if err == io.EOF {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
					if len(line) == 1 {
						got++
					}
				}
				resp.Body.Close()
				if got < n {
					b.Fatalf("%d events, want over %d", got, n)
				}
				events += got
			}
			runtime.ReadMemStats(&ms)
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(events), "ns/event")
			b.ReportMetric(float64(ms.Mallocs-mallocs)/float64(events), "allocs/event")
		})
	}
}

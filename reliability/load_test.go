package reliability

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/godspy/dspy"
	"github.com/godspy/dspy/dspytest"
	"github.com/godspy/dspy/lm"
	"github.com/godspy/dspy/lm/openai"
	"github.com/godspy/dspy/streaming"
)

// loadClients is the number of concurrent SSE clients of TestLoadSSE:
// 1,000, or 200 under -race (the detector's cost would take the test past
// a minute on two cores; the race build still runs every code path). CI
// runs the full size too, in a pass without -race (.ci/run).
func loadClients() int {
	if raceEnabled {
		return 200
	}
	return 1000
}

// sseClientEvent is one event a client of Handler reads.
type sseClientEvent struct{ name, data string }

// readEvents reads events from an SSE body, calling each for every event;
// each returns false to stop reading.
func readEvents(r *bufio.Reader, each func(sseClientEvent) bool) error {
	var cur sseClientEvent
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return err
		}
		line = strings.TrimRight(line, "\n")
		switch {
		case line == "":
			if !each(cur) {
				return nil
			}
			cur = sseClientEvent{}
		case strings.HasPrefix(line, "event: "):
			cur.name = line[len("event: "):]
		case strings.HasPrefix(line, "data: "):
			cur.data = line[len("data: "):]
		}
	}
}

// newHandlerServer serves prog with Handler on a loopback http.Server
// configured as a service would be.
func newHandlerServer(t testing.TB, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ReadHeaderTimeout = 5 * time.Second
	srv.Config.IdleTimeout = 30 * time.Second
	srv.Config.MaxHeaderBytes = 16 << 10
	srv.Start()
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
	})
	return srv
}

// TestLoadSSE serves a streamed Predict with streaming.Handler to 1,000
// concurrent SSE clients on loopback: a tenth leave mid-stream, a tenth
// read slowly, the rest read normally. Every client that stays gets the
// complete, correct stream; every client that leaves cancels its run and
// its LM request; afterwards the heap and the goroutines are back near
// their baseline.
func TestLoadSSE(t *testing.T) {
	if testing.Short() {
		t.Skip("load test: skipped under -short")
	}
	n := loadClients()
	words := make([]string, 40)
	for i := range words {
		words[i] = fmt.Sprintf("w%02d", i)
	}
	answer := strings.Join(words, " ")
	lmSrv := dspytest.NewServer(dspytest.WithoutRecording(), dspytest.WithChunkDelay(5*time.Millisecond),
		dspytest.WithResponder(func(req *dspytest.ChatRequest) dspytest.Answer {
			if strings.Contains(req.Messages[len(req.Messages)-1].Content, "leave") {
				// Ten seconds of stream: only a cancellation ends it in time.
				return dspytest.Answer{Text: dspytest.ChatReply("answer", strings.Repeat(answer+" ", 50))}
			}
			return dspytest.Answer{Text: dspytest.ChatReply("answer", answer)}
		}))
	defer lmSrv.Close()
	lmTransport := &http.Transport{MaxIdleConnsPerHost: n}
	defer lmTransport.CloseIdleConnections()
	model := openai.New("test-model", openai.WithBaseURL(lmSrv.URL()), openai.WithAPIKey(testKey),
		openai.WithHTTPClient(&http.Client{Transport: lmTransport}), openai.WithRetry(fastRetry))

	// LMEnd sees how each run's LM call ended.
	var lmCancelled, lmOK atomic.Int32
	trace := &dspy.Trace{LMEnd: func(ctx context.Context, info dspy.LMEndInfo) {
		switch {
		case info.Err == nil:
			lmOK.Add(1)
		case errors.Is(info.Err, context.Canceled):
			lmCancelled.Add(1)
		}
	}}
	prog := streaming.MustStreamify(dspy.NewPredict("question -> answer", dspy.WithLM(model)),
		streaming.WithListeners(streaming.NewListener("answer")))
	handler := streaming.Handler(prog, streaming.WithWriteTimeout(10*time.Second))
	srv := newHandlerServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handler.ServeHTTP(w, r.WithContext(dspy.WithSettings(r.Context(), dspy.WithTrace(trace))))
	}))
	clientTransport := &http.Transport{MaxIdleConnsPerHost: n}
	defer clientTransport.CloseIdleConnections()
	client := &http.Client{Transport: clientTransport}

	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	baseGoroutines := runtime.NumGoroutine()

	var peak atomic.Uint64
	stop := make(chan struct{})
	var sampler sync.WaitGroup
	sampler.Go(func() {
		tick := time.NewTicker(25 * time.Millisecond)
		defer tick.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	})

	// Bounded in time: a stuck client fails the test instead of hanging it.
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Second)
	defer cancel()
	const (
		normal = iota
		leaves // disconnects after three chunks
		slow   // sleeps between reads
	)
	var complete, left, failed atomic.Int32
	var firstErr sync.Once
	var errText string
	fail := func(i int, err error) {
		failed.Add(1)
		firstErr.Do(func() { errText = fmt.Sprintf("client %d: %v", i, err) })
	}
	start := time.Now()
	var wg sync.WaitGroup
	for i := range n {
		kind := normal
		switch i % 10 {
		case 1:
			kind = leaves
		case 2:
			kind = slow
		}
		wg.Go(func() {
			cctx, ccancel := context.WithCancel(ctx)
			defer ccancel()
			req, _ := http.NewRequestWithContext(cctx, "POST", srv.URL, strings.NewReader(fmt.Sprintf(`{"question": "%s %d"}`, map[bool]string{true: "leave", false: "stay"}[kind == leaves], i)))
			req.Header.Set("Content-Type", "application/json")
			resp, err := client.Do(req)
			if err != nil {
				fail(i, err)
				return
			}
			defer resp.Body.Close()
			if resp.StatusCode != 200 {
				fail(i, fmt.Errorf("status %d", resp.StatusCode))
				return
			}
			var streamed strings.Builder
			var chunks int
			var pred, done bool
			var bad error
			err = readEvents(bufio.NewReader(resp.Body), func(e sseClientEvent) bool {
				switch e.name {
				case "chunk":
					var c struct {
						Chunk string `json:"chunk"`
					}
					if err := json.Unmarshal([]byte(e.data), &c); err != nil {
						bad = err
						return false
					}
					streamed.WriteString(c.Chunk)
					chunks++
					if kind == leaves && chunks == 3 {
						return false
					}
					if kind == slow {
						time.Sleep(10 * time.Millisecond)
					}
				case "prediction":
					var p struct {
						Prediction struct {
							Answer string `json:"answer"`
						} `json:"prediction"`
					}
					if err := json.Unmarshal([]byte(e.data), &p); err != nil || p.Prediction.Answer != answer {
						bad = fmt.Errorf("prediction %s", e.data)
						return false
					}
					pred = true
				case "error":
					bad = fmt.Errorf("error event %s", e.data)
					return false
				case "":
					done = e.data == "[DONE]"
					return false
				}
				return true
			})
			switch {
			case bad != nil:
				fail(i, bad)
			case kind == leaves:
				ccancel() // leave mid-stream
				left.Add(1)
			case err != nil:
				fail(i, err)
			case streamed.String() != answer || !pred || !done:
				fail(i, fmt.Errorf("streamed %q, prediction %v, [DONE] %v", streamed.String(), pred, done))
			default:
				complete.Add(1)
			}
		})
	}
	wg.Wait()
	wall := time.Since(start)
	nLeft := int(left.Load())
	if f := failed.Load(); f > 0 {
		t.Fatalf("%d of %d clients failed; first: %s", f, n, errText)
	}
	if got, want := int(complete.Load()), n-n/10; got != want {
		t.Errorf("%d complete streams, want %d", got, want)
	}
	// Every client that left cancelled its run's LM request.
	if !waitFor(10*time.Second, func() bool {
		return lmSrv.Disconnects() >= nLeft && lmSrv.Active() == 0 && int(lmCancelled.Load()) >= nLeft
	}) {
		t.Errorf("LM server: %d disconnects, %d active; %d LM calls cancelled; want %d, 0, %d", lmSrv.Disconnects(), lmSrv.Active(), lmCancelled.Load(), nLeft, nLeft)
	}
	if d, c, ok := lmSrv.Disconnects(), int(lmCancelled.Load()), int(lmOK.Load()); d != nLeft || c != nLeft || ok != n-nLeft {
		t.Errorf("LM server saw %d disconnects, %d LM calls cancelled, %d ended well; want %d, %d, %d", d, c, ok, nLeft, nLeft, n-nLeft)
	}
	close(stop)
	sampler.Wait()

	// Back to baseline: close the idle connections of both sides, then
	// the heap and the goroutines must return near where they started.
	clientTransport.CloseIdleConnections()
	lmTransport.CloseIdleConnections()
	srv.CloseClientConnections()
	var after runtime.MemStats
	settled := waitFor(10*time.Second, func() bool {
		runtime.GC()
		runtime.ReadMemStats(&after)
		return runtime.NumGoroutine() == baseGoroutines && after.HeapAlloc < base.HeapAlloc+16<<20
	})
	if !settled {
		t.Errorf("after the load: %d goroutines (baseline %d), heap %.1f MiB (baseline %.1f MiB)",
			runtime.NumGoroutine(), baseGoroutines, mib(after.HeapAlloc), mib(base.HeapAlloc))
	}
	// Generous: about 140 MiB is typical for 1,000 clients.
	if p := peak.Load(); p > 400<<20 {
		t.Errorf("peak HeapInuse %.1f MiB, want < 400 MiB", mib(p))
	}
	t.Logf("%d clients in %v; peak HeapInuse %.1f MiB; heap after GC %.1f MiB (baseline %.1f MiB)",
		n, wall.Round(time.Millisecond), mib(peak.Load()), mib(after.HeapAlloc), mib(base.HeapAlloc))
	row(t, areaLoad, fmt.Sprintf("%d concurrent SSE clients of `streaming.Handler` on loopback (%d leave after 3 chunks, %d read slowly)", n, nLeft, n/10),
		fmt.Sprintf("%d complete, correct streams (every chunk, the prediction, [DONE]); %d LM requests cancelled (LM server: %d disconnects, 0 active); peak heap < 400 MiB; heap after GC within 16 MiB of baseline, goroutines back to baseline; under 50 s", n-n/10, nLeft, nLeft))
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

// TestStuckReaderDropped: a client that stops reading blocks the handler's
// writes once the socket buffers fill; the per-event write deadline drops
// it, and its run and LM request are cancelled while the connection is
// still open.
func TestStuckReaderDropped(t *testing.T) {
	big := strings.Repeat("stuck reader payload ", 1<<20/20*32) // ~32 MiB
	lmSrv := dspytest.NewServer(dspytest.WithChunkBytes(8<<10),
		dspytest.WithAnswers(dspytest.Answer{Text: dspytest.ChatReply("answer", big)}))
	defer lmSrv.Close()
	model := newClient(t, lmSrv.URL())
	prog := streaming.MustStreamify(dspy.NewPredict("question -> answer", dspy.WithLM(model)),
		streaming.WithListeners(streaming.NewListener("answer")))
	srv := newHandlerServer(t, streaming.Handler(prog, streaming.WithWriteTimeout(300*time.Millisecond)))

	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL, strings.NewReader(`{"question": "q"}`))
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	// Read nothing more. The handler must give up on its own.
	if !waitFor(20*time.Second, func() bool { return lmSrv.Disconnects() == 1 && lmSrv.Active() == 0 }) {
		t.Fatalf("LM server: %d disconnects, %d active; want the stuck client's LM request cancelled", lmSrv.Disconnects(), lmSrv.Active())
	}
	row(t, areaLoad, "SSE client that stops reading (32 MiB answer, 300 ms write timeout)",
		"dropped by the per-event write deadline; its run and LM request cancelled while the client still holds the connection")
}

// TestLimitBoundsInFlight: 300 concurrent streamed Predict calls through
// lm.Limit with MaxInFlight 8 never have more than 8 requests open at the
// provider, and all complete: a burst of callers queues instead of
// becoming a 429 storm.
func TestLimitBoundsInFlight(t *testing.T) {
	const callers, limit = 300, 8
	var open, peak atomic.Int32
	srv := newRawServer(t, func(n int, w http.ResponseWriter, r *http.Request) {
		now := open.Add(1)
		for {
			p := peak.Load()
			if now <= p || peak.CompareAndSwap(p, now) {
				break
			}
		}
		w.Header().Set("Content-Type", "text/event-stream")
		for _, p := range dspytest.Split(reply, chunkBytes) {
			sseWrite(w, chunkJSON(p))
			time.Sleep(time.Millisecond)
		}
		sseWrite(w, finishJSON)
		// Closed as the provider sees it before the client can know, so
		// the count never runs ahead of the limiter's.
		open.Add(-1)
		sseWrite(w, "[DONE]")
	})
	model := lm.Limit(newClient(t, srv.URL), lm.Limits{MaxInFlight: limit})
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	var failed atomic.Int32
	for range callers {
		wg.Go(func() {
			if o := streamAnswer(ctx, model); o.err != nil || o.streamed != answer {
				failed.Add(1)
			}
		})
	}
	wg.Wait()
	if f := failed.Load(); f > 0 {
		t.Fatalf("%d of %d calls failed", f, callers)
	}
	if p := peak.Load(); p > limit {
		t.Errorf("peak %d requests open at the provider, want ≤ %d", p, limit)
	}
	if n := srv.requests.Load(); n != callers {
		t.Errorf("%d requests, want %d", n, callers)
	}
	row(t, areaLoad, fmt.Sprintf("%d concurrent streamed calls through `lm.Limit` (MaxInFlight %d)", callers, limit),
		fmt.Sprintf("all complete; never more than %d requests open at the provider", limit))
}

package openai_test

import (
	"context"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/godspy/dspy/dspytest"
	"github.com/godspy/dspy/lm"
	"github.com/godspy/dspy/lm/openai"
)

// TestLoad2000Streams runs 2,000 concurrent streaming calls against a
// dspytest.Server with 200 ms to first token and reports wall time against
// the ideal and peak memory.
func TestLoad2000Streams(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("load test: run without -short and -race for its figures")
	}
	const (
		n     = 2000
		ttft  = 200 * time.Millisecond
		delay = 10 * time.Millisecond
		words = 20
	)
	text := ""
	for i := range words {
		if i > 0 {
			text += " "
		}
		text += "word"
	}
	srv := dspytest.NewServer(dspytest.WithoutRecording(), dspytest.WithTimeToFirstToken(ttft), dspytest.WithChunkDelay(delay),
		dspytest.WithResponder(func(*dspytest.ChatRequest) dspytest.Answer { return dspytest.Answer{Text: text} }))
	defer srv.Close()
	tr := &http.Transport{MaxIdleConnsPerHost: n}
	defer tr.CloseIdleConnections()
	c := openai.New("m", openai.WithBaseURL(srv.URL()), openai.WithHTTPClient(&http.Client{Transport: tr}), openai.WithRetry(lm.NoRetry()))

	baseGoroutines := runtime.NumGoroutine() // before the sampler's own
	var peakInuse, peakSys atomic.Uint64
	stop := make(chan struct{})
	var sampler sync.WaitGroup
	sampler.Go(func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peakInuse.Load() {
				peakInuse.Store(ms.HeapInuse)
			}
			if ms.Sys > peakSys.Load() {
				peakSys.Store(ms.Sys)
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	})
	// Bounded: a stuck run fails instead of hanging.
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	var wg sync.WaitGroup
	var failed atomic.Int32
	var firstErr atomic.Value
	for range n {
		wg.Go(func() {
			resp, err := lm.Collect(c.Stream(ctx, userReq("hello")))
			if err != nil || resp.Text() != text {
				if failed.Add(1) == 1 {
					firstErr.Store(err)
				}
			}
		})
	}
	wg.Wait()
	wall := time.Since(start)
	close(stop)
	sampler.Wait()
	if f := failed.Load(); f > 0 {
		t.Fatalf("%d of %d streams failed; first: %v", f, n, firstErr.Load())
	}
	// Ideal: time to first token, then one delay between chunks (the role
	// chunk and the first word go without one).
	ideal := ttft + time.Duration(words)*delay
	t.Logf("%d streams of %d chunks: wall %v, ideal %v (%.2fx); peak HeapInuse %.1f MiB (%.1f MiB before), peak Sys %.1f MiB",
		n, words, wall.Round(time.Millisecond), ideal, float64(wall)/float64(ideal),
		float64(peakInuse.Load())/(1<<20), float64(before.HeapInuse)/(1<<20), float64(peakSys.Load())/(1<<20))
	if wall > 60*time.Second {
		t.Errorf("wall %v, far off the ideal %v", wall, ideal)
	}
	// About 120 MiB is typical; far more means something is retained per
	// stream.
	if p := peakInuse.Load(); p > 320<<20 {
		t.Errorf("peak HeapInuse %.1f MiB, want < 320 MiB", float64(p)/(1<<20))
	}
	// Every stream's goroutines have ended: back to the baseline exactly,
	// once the idle connections are closed (bounded wait).
	tr.CloseIdleConnections()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() != baseGoroutines {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines 10 s after the load, baseline %d", runtime.NumGoroutine(), baseGoroutines)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/godspy/dspy/dspytest"
)

// The memory workload (Mblock, Mstream, Mlisten): N calls in flight at
// once against a server that holds every one of them, blocking calls before
// the response and streams after the first chunks; once the server holds
// all N, the client collects garbage and reads its live heap. What it
// retains per call, less the baseline before the calls, is the cost of a
// call waiting on a provider, which is what a service with many slow calls
// pays.
//
// The server is a small hand-written one (serve-lm -hold), not dspytest
// behind the relay: dspytest cannot pause a stream and resume it, and a
// relay at 10,000 calls needs 30,000 descriptors in one process.

// memKinds maps a memory workload to the kind of call it holds.
// memContenders are the contenders the memory workloads run for.
var memContenders = []string{"floor", "godspy", "godspy-lm"}

var memKinds = map[string]string{"Mblock": "blocking", "Mstream": "stream", "Mlisten": "stream+listener"}

// withoutListener is implemented by clients whose stream is a field
// listener, to give the same client streaming raw chunks (Mstream).
type withoutListener interface {
	withoutListener() (client, error)
}

// serveHold is serve-lm -hold: an OpenAI-compatible server that holds
// every request until POST <ctl>/release, and counts the held ones at GET
// <ctl>/held. It prints "URL <api root> STAMPS <ctl>" (the control URL
// goes where the relay's stamps URL does) and serves until stdin closes.
func serveHold(args []string) error {
	fs := flag.NewFlagSet("serve-lm -hold", flag.ExitOnError)
	fs.Bool("hold", true, "hold every request until released")
	words := fs.Int("words", 20, "reply tokens")
	fs.Parse(args)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	h := &holdServer{respond: responder(*words), release: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/chat/completions", h.chat)
	mux.HandleFunc("GET /ctl/held", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, h.held.Load())
	})
	mux.HandleFunc("POST /ctl/release", func(w http.ResponseWriter, _ *http.Request) { h.releaseAll() })
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	defer srv.Close()
	root := "http://" + ln.Addr().String()
	fmt.Printf("URL %s/v1 STAMPS %s/ctl\n", root, root)
	io.Copy(io.Discard, os.Stdin)
	return nil
}

type holdServer struct {
	respond func(*dspytest.ChatRequest) dspytest.Answer
	held    atomic.Int64

	mu      sync.Mutex
	release chan struct{} // closed by releaseAll
}

// releaseAll lets every held request go on, and holds the next ones
// afresh: one server can serve several runs.
func (h *holdServer) releaseAll() {
	h.mu.Lock()
	close(h.release)
	h.release = make(chan struct{})
	h.held.Store(0)
	h.mu.Unlock()
}

func (h *holdServer) wait(r *http.Request) bool {
	h.mu.Lock()
	release := h.release
	h.held.Add(1)
	h.mu.Unlock()
	select {
	case <-release:
		return true
	case <-r.Context().Done():
		return false
	}
}

func (h *holdServer) chat(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Model    string `json:"model"`
		Stream   bool   `json:"stream"`
		Messages []struct {
			Content string `json:"content"`
		} `json:"messages"`
		StreamOptions *struct {
			IncludeUsage bool `json:"include_usage"`
		} `json:"stream_options"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	var req dspytest.ChatRequest
	for _, m := range in.Messages {
		req.Messages = append(req.Messages, dspytest.ChatMessage{Content: m.Content})
	}
	text := h.respond(&req).Text
	usage := map[string]int{"prompt_tokens": 100, "completion_tokens": len(text) / 4, "total_tokens": 100 + len(text)/4}
	if !in.Stream {
		if !h.wait(r) {
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"id": "chatcmpl-hold", "object": "chat.completion", "created": 1700000000, "model": in.Model,
			"choices": []any{map[string]any{"index": 0, "message": map[string]any{"role": "assistant", "content": text}, "finish_reason": "stop"}},
			"usage":   usage,
		})
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	rc := http.NewResponseController(w)
	send := func(delta map[string]any, finish any, u any) error {
		c := map[string]any{"id": "chatcmpl-hold", "object": "chat.completion.chunk", "created": 1700000000, "model": in.Model,
			"choices": []any{map[string]any{"index": 0, "delta": delta, "finish_reason": finish}}}
		if u != nil {
			c["choices"], c["usage"] = []any{}, u
		}
		b, _ := json.Marshal(c)
		if _, err := fmt.Fprintf(w, "data: %s\n\n", b); err != nil {
			return err
		}
		return rc.Flush()
	}
	if send(map[string]any{"role": "assistant", "content": ""}, nil, nil) != nil {
		return
	}
	// One word a chunk, as the other workloads; hold once the first reply
	// word ("w0") has gone, so the client is inside the answer field.
	pieces := strings.SplitAfter(text, " ")
	held := false
	for _, p := range pieces {
		if send(map[string]any{"content": p}, nil, nil) != nil {
			return
		}
		if !held && strings.Contains(p, "w0") {
			held = true
			if !h.wait(r) {
				return
			}
		}
	}
	if send(map[string]any{}, "stop", nil) != nil {
		return
	}
	if in.StreamOptions != nil && in.StreamOptions.IncludeUsage && send(nil, nil, usage) != nil {
		return
	}
	fmt.Fprint(w, "data: [DONE]\n\n")
	rc.Flush()
}

// memSample is the live heap, goroutine stacks and goroutines, after two
// collections.
type memSample struct{ heap, stacks, goroutines int64 }

func sampleMem() memSample {
	runtime.GC()
	runtime.GC()
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/memory/classes/heap/stacks:bytes"}}
	metrics.Read(s)
	return memSample{heap: int64(s[0].Value.Uint64()), stacks: int64(s[1].Value.Uint64()), goroutines: int64(runtime.NumGoroutine())}
}

// runMem runs a memory workload: n calls of its kind held in flight at
// once. BENCH_HEAP_PROFILE=path writes a heap profile (inuse_space) at the
// moment all n are held. A failure of the setup counts as an error of the
// run.
func runMem(ctx context.Context, c contender, cl client, wl string, n, words int, ctl string, res *result) {
	if err := memRun(ctx, c, cl, wl, n, words, ctl, res); err != nil {
		res.Errors++
		if res.FirstError == "" {
			res.FirstError = err.Error()
		}
	}
}

func memRun(ctx context.Context, c contender, cl client, wl string, n, words int, ctl string, res *result) error {
	kind := memKinds[wl]
	res.Note = kind
	profile := os.Getenv("BENCH_HEAP_PROFILE")
	if profile != "" {
		runtime.MemProfileRate = 4096
	}
	var fn func(ctx context.Context, q string) (string, error)
	switch kind {
	case "blocking":
		fn = cl.call
	case "stream":
		if wl, ok := cl.(withoutListener); ok {
			plain, err := wl.withoutListener()
			if err != nil {
				return err
			}
			cl = plain
		}
		fn = func(ctx context.Context, q string) (string, error) { return cl.stream(ctx, q, func(string) {}) }
	case "stream+listener":
		if !c.fieldStream {
			res.Supported = false
			res.Note = "no field listener"
			return nil
		}
		fn = func(ctx context.Context, q string) (string, error) { return cl.stream(ctx, q, func(string) {}) }
	default:
		return fmt.Errorf("unknown memory workload %q", wl)
	}
	hc := &http.Client{Timeout: 10 * time.Second}
	ctlDo := func(method, path string) (string, error) {
		req, err := http.NewRequestWithContext(ctx, method, ctl+path, nil)
		if err != nil {
			return "", err
		}
		resp, err := hc.Do(req)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return string(b), err
	}
	// Warm up the control client, so its connection is in the baseline.
	if _, err := ctlDo("GET", "/held"); err != nil {
		return err
	}

	var errMu sync.Mutex
	fail := func(err error) {
		errMu.Lock()
		res.Errors++
		if res.FirstError == "" {
			res.FirstError = err.Error()
		}
		errMu.Unlock()
	}
	base := sampleMem()
	t0 := time.Now()
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			got, err := fn(ctx, question(i))
			if err == nil {
				err = checkAnswer(i, words, got)
			}
			if err != nil {
				fail(err)
			}
		})
	}
	// Wait until the server holds all n. A client that caps its
	// connections per host never gets there: give up when the count has
	// not moved for 10 s, or after 2 minutes.
	deadline := time.Now().Add(2 * time.Minute)
	last, moved := -1, time.Now()
	for {
		s, err := ctlDo("GET", "/held")
		if err != nil {
			return err
		}
		h, _ := strconv.Atoi(s)
		if h >= n {
			break
		}
		if h != last {
			last, moved = h, time.Now()
		}
		if now := time.Now(); now.After(deadline) || now.Sub(moved) > 10*time.Second {
			ctlDo("POST", "/release")
			wg.Wait()
			return fmt.Errorf("the server holds %d of %d calls, no more for 10 s or after 2 minutes (a cap on connections per host?) (first error: %s)", h, n, res.FirstError)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Let the clients take in what the server sent before it held.
	time.Sleep(200 * time.Millisecond)
	in := sampleMem()
	res.WallNs = time.Since(t0).Nanoseconds()
	if profile != "" {
		f, err := os.Create(profile)
		if err != nil {
			return err
		}
		pprof.Lookup("heap").WriteTo(f, 0)
		f.Close()
	}
	if _, err := ctlDo("POST", "/release"); err != nil {
		return errors.Join(err, ctx.Err())
	}
	wg.Wait()
	res.Units = n
	res.BytesPer = float64(in.heap-base.heap) / float64(n)
	res.StackPer = float64(in.stacks-base.stacks) / float64(n)
	res.GoroutinesPer = float64(in.goroutines-base.goroutines) / float64(n)
	return nil
}

// memSpecs are the memory workloads: 10,000 calls in flight (2,000 with
// -quick) of 20-word replies.
func memSpecs(quick bool) []spec {
	n := 10000
	if quick {
		n = 2000
	}
	var out []spec
	for _, w := range []string{"Mblock", "Mstream", "Mlisten"} {
		out = append(out, spec{workload: w, n: n, words: 20, server: []string{"-hold", "-words", "20"}})
	}
	return out
}

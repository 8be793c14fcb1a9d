package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// W5 is the serving path end to end: SSE clients → an HTTP server (the
// server under test) → a program → the provider stream (serve-lm, with the
// stamping relay). Three processes: serve-lm (the provider), the server
// under test (serve-w5, a child of the run process) and the run process,
// which holds the SSE clients and records when each token's event is read.
// CPU and peak RSS are the server under test's alone.

// w5Contenders are the W5 rows, in table order; the other contenders have
// no HTTP server to test.
var w5Contenders = []string{"floor", "godspy", "godspy-events", "godspy-resume"}

// w5Servers builds the server under test of a W5 contender, for the
// provider's API root: the handler to mount at w5Path and a function that
// ends what it started. The files of the contenders' build tags fill it.
var w5Servers = map[string]func(lmURL string) (http.Handler, func(), error){}

// w5Path is where every server under test takes its POSTs.
const w5Path = "/v1/stream"

func init() {
	// godspy-resume links godspy alone.
	buildTags["godspy-resume"] = "godspy"
}

// w5Specs are W5's runs: 1,000 concurrent SSE clients, the size,
// and 250, a load the 2-core machine carries without a backlog (at 1,000
// the provider, the server under test and the clients need more CPU than
// two cores have, so latency there measures queueing). -quick runs 250.
func w5Specs(quick bool) []spec {
	ns := []int{250, 1000}
	if quick {
		ns = ns[:1]
	}
	var out []spec
	for _, n := range ns {
		for range w4Reps(quick) { // its p99 at 1,000 moves as much as W4's
			out = append(out, spec{workload: "W5", n: n, words: 200, server: []string{"-words", "200", "-delay", "10ms", "-stamps"}})
		}
	}
	return out
}

// w5Runs reports whether contender c takes part in workload w: W5 is for
// the contenders with a server under test, and godspy-resume (a Handler
// setting, not a client) is for W5 alone; the memory workloads are for
// memContenders.
func w5Runs(c, w string) bool {
	if w == "W5" {
		return slices.Contains(w5Contenders, c)
	}
	if _, ok := memKinds[w]; ok {
		// The memory question is godspy's against the floor's; the peers'
		// rows would add minutes to a full run at 10,000 calls each.
		return slices.Contains(memContenders, c)
	}
	return c != "godspy-resume"
}

// w5Stats is what the server under test says of itself.
type w5Stats struct {
	CPUNs int64 `json:"cpu_ns"`
	RSSKB int64 `json:"rss_kb"`
	HWMKB int64 `json:"hwm_kb"`
}

// serveW5 is the "serve-w5" subcommand: the server under test of one
// contender, in front of the provider at -url. It prints "URL <POST url>
// CTL <stats url>" and serves until stdin closes. GET CTL returns its
// w5Stats (after a GC with ?gc=1).
func serveW5(args []string) error {
	fs := flag.NewFlagSet("serve-w5", flag.ExitOnError)
	name := fs.String("c", "floor", "contender")
	url := fs.String("url", "", "provider API root")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile from the first GET CTL?gc=1 to the next GET CTL")
	fs.Parse(args)
	build, ok := w5Servers[*name]
	if !ok {
		return fmt.Errorf("no W5 server for contender %q in this binary", *name)
	}
	h, stop, err := build(*url)
	if err != nil {
		return err
	}
	defer stop()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	ctl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln) // ends with Close below
	var prof struct {
		sync.Mutex
		f *os.File
	}
	defer func() {
		if prof.f != nil {
			pprof.StopCPUProfile()
			prof.f.Close()
		}
	}()
	cs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		prof.Lock()
		defer prof.Unlock()
		start := r.URL.Query().Get("gc") != ""
		if start {
			runtime.GC()
		}
		st := w5Stats{CPUNs: cpuNow(), RSSKB: currentRSSKB(), HWMKB: maxRSSKB()}
		switch {
		case start && *cpuProfile != "" && prof.f == nil:
			if f, err := os.Create(*cpuProfile); err == nil && pprof.StartCPUProfile(f) == nil {
				prof.f = f
			}
		case !start && prof.f != nil:
			pprof.StopCPUProfile()
			prof.f.Close()
			prof.f = nil
		}
		json.NewEncoder(w).Encode(st)
	}), ReadHeaderTimeout: 10 * time.Second}
	go cs.Serve(ctl) // ends with Close below
	defer cs.Close()
	defer srv.Close()
	fmt.Printf("URL http://%s%s CTL http://%s/stats\n", ln.Addr(), w5Path, ctl.Addr())
	io.Copy(io.Discard, os.Stdin)
	return nil
}

// runW5 is W5 in the run process: it starts the server under test as a
// child (this binary's serve-w5) in front of the provider at lmURL, runs
// res.N SSE clients against it at once and fills res: the server's CPU
// and peak RSS, and delivery latency from the relay's write of a token
// (stampURL) to the client's read of the event carrying it. It prints res.
func runW5(ctx context.Context, res *result, lmURL, stampURL string, words int) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	args := []string{"serve-w5", "-c", res.Contender, "-url", lmURL}
	if p := os.Getenv("BENCH_W5_CPUPROFILE"); p != "" { // a profile of the server under test
		args = append(args, "-cpuprofile", p)
	}
	srv := exec.CommandContext(ctx, exe, args...)
	stdin, err := srv.StdinPipe()
	if err != nil {
		return err
	}
	stdout, err := srv.StdoutPipe()
	if err != nil {
		return err
	}
	srv.Stderr = os.Stderr
	if err := srv.Start(); err != nil {
		return err
	}
	defer srv.Wait()
	defer stdin.Close()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	f := strings.Fields(line)
	if err != nil || len(f) != 4 {
		return fmt.Errorf("serve-w5 said %q: %v", line, err)
	}
	url, ctl := f[1], f[3]
	hc := sharedHTTPClient()
	st0, err := getW5Stats(ctx, hc, ctl+"?gc=1")
	if err != nil {
		return err
	}
	res.StartRSSKB = st0.RSSKB
	floor := res.Contender == "floor"
	recv := make([][]int64, res.N)
	for i := range recv {
		recv[i] = make([]int64, words)
	}
	var errMu sync.Mutex
	var events atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for id := range res.N {
		wg.Go(func() {
			<-start
			n, err := w5Stream(ctx, hc, url, id, words, floor, recv[id])
			events.Add(int64(n))
			if err != nil {
				errMu.Lock()
				res.Errors++
				if res.FirstError == "" {
					res.FirstError = err.Error()
				}
				errMu.Unlock()
			}
		})
	}
	t0, c0 := time.Now(), cpuNow()
	close(start)
	wg.Wait()
	res.WallNs = time.Since(t0).Nanoseconds()
	res.Note = fmt.Sprintf("clients: %.2f s CPU, %d SSE events read", float64(cpuNow()-c0)/1e9, events.Load())
	st1, err := getW5Stats(ctx, hc, ctl)
	if err != nil {
		return err
	}
	res.CPUNs, res.PeakRSSKB = st1.CPUNs-st0.CPUNs, st1.HWMKB
	res.Units = res.N * words
	res.CPUPerUnit = float64(res.CPUNs) / float64(res.Units)
	stamps, err := fetchStamps(ctx, stampURL)
	if err != nil {
		return err
	}
	var lat []int64
	for s, ws := range recv {
		for w, t := range ws {
			st, ok := stamps[token{int32(s), int32(w)}]
			if t == 0 || !ok {
				res.LatMissing++
				continue
			}
			lat = append(lat, t-st)
		}
	}
	slices.Sort(lat)
	res.LatSamples = len(lat)
	if len(lat) > 0 {
		res.LatP50Ns = lat[len(lat)/2]
		res.LatP99Ns = lat[len(lat)*99/100]
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}

func getW5Stats(ctx context.Context, hc *http.Client, url string) (w5Stats, error) {
	var st w5Stats
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return st, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

// w5Stream is one SSE client: it POSTs question id, reads the event
// stream, records in rec[w] when the event carrying token s<id>w<w> was
// read, and checks the answer the events add up to (and, for godspy, the
// final prediction's). floor: the floor's wire (unnamed events of answer
// text, then "done"); otherwise streaming.Handler's.
// It returns the number of events it read.
func w5Stream(ctx context.Context, hc *http.Client, url string, id, words int, floor bool, rec []int64) (events int, err error) {
	body, err := json.Marshal(map[string]string{"question": question(id)})
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, "POST", url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return 0, fmt.Errorf("status %d: %s", resp.StatusCode, b)
	}
	var text strings.Builder
	final, gotFinal := "", false
	mark := func(now int64) func(token) {
		return func(t token) {
			if int(t.stream) == id && int(t.word) < len(rec) && rec[t.word] == 0 {
				rec[t.word] = now
			}
		}
	}
	err = readSSE(resp.Body, mark, func(name string, data []byte) (bool, error) {
		events++
		switch {
		case floor && name == "":
			text.Write(data)
		case floor && name == "done":
			return true, nil
		case name == "chunk":
			c, err := chunkText(data)
			if err != nil {
				return false, err
			}
			text.Write(c)
		case name == "prediction":
			var p struct {
				Prediction struct {
					Answer string `json:"answer"`
				} `json:"prediction"`
			}
			if err := json.Unmarshal(data, &p); err != nil {
				return false, fmt.Errorf("prediction event %q: %w", data, err)
			}
			final, gotFinal = p.Prediction.Answer, true
		case name == "error":
			return false, fmt.Errorf("error event: %s", data)
		case name == "" && string(data) == "[DONE]":
			return true, nil
		}
		return false, nil
	})
	if err != nil {
		return events, err
	}
	if err := checkAnswer(id, words, strings.TrimSpace(text.String())); err != nil {
		return events, fmt.Errorf("streamed %w", err)
	}
	if !floor {
		if !gotFinal {
			return events, errors.New("no prediction event")
		}
		if err := checkAnswer(id, words, final); err != nil {
			return events, fmt.Errorf("prediction's %w", err)
		}
	}
	return events, nil
}

// errSSEEnded: the stream ended before its last event.
var errSSEEnded = errors.New("event stream ended before its end event")

// readSSE reads a text/event-stream, calls event for each event (its name,
// "" when it has none, and its data lines joined by "\n") until event says
// the stream is done, and scans every data line for tokens as it is read,
// with mark(the time it was read).
func readSSE(r io.Reader, mark func(now int64) func(token), event func(name string, data []byte) (bool, error)) error {
	br := bufio.NewReaderSize(r, 16<<10)
	var name string
	var data []byte
	has := false
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			if errors.Is(err, bufio.ErrBufferFull) {
				return fmt.Errorf("an event stream line is over %d bytes", br.Size())
			}
			if errors.Is(err, io.EOF) {
				return errSSEEnded
			}
			return err
		}
		now := time.Now().UnixNano()
		line = bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r"))
		if len(line) == 0 {
			if has {
				done, err := event(name, data)
				if done || err != nil {
					return err
				}
			}
			name, data, has = "", data[:0], false
			continue
		}
		field, val, _ := bytes.Cut(line, []byte(":"))
		val = bytes.TrimPrefix(val, []byte(" "))
		switch string(field) {
		case "event":
			name = string(val)
		case "data":
			scanTokens(val, true, false, mark(now))
			if has {
				data = append(data, '\n')
			}
			data, has = append(data, val...), true
		}
	}
}

// chunkText returns the text of a chunk event of the answer field. It
// reads the JSON by hand: the client shares the machine's cores with the
// server under test, so its work per event is kept small.
func chunkText(data []byte) ([]byte, error) {
	if !bytes.Contains(data, []byte(`"signature_field_name":"answer"`)) {
		return nil, fmt.Errorf("chunk event of another field: %s", data)
	}
	_, s, ok := bytes.Cut(data, []byte(`"chunk":`))
	if !ok || len(s) == 0 || s[0] != '"' {
		return nil, fmt.Errorf("chunk event without a chunk: %s", data)
	}
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			if bytes.IndexByte(s[:i], '\\') < 0 {
				return s[1:i], nil
			}
			var t string
			if err := json.Unmarshal(s[:i+1], &t); err != nil {
				return nil, fmt.Errorf("chunk event %s: %w", data, err)
			}
			return []byte(t), nil
		}
	}
	return nil, fmt.Errorf("chunk event with an unterminated chunk: %s", data)
}

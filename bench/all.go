package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// buildTags maps a contender to the build tag of its file: each contender
// runs in a binary that links only its own library, so peak RSS and
// start-up work are its own.
var buildTags = map[string]string{
	"floor": "floor", "godspy": "godspy", "godspy-events": "godspy", "godspy-lm": "godspy", "godspy-otel": "godspyotel", "godspy-otelsdk": "godspyotel", "openai-go": "openaigo",
	"dspy-go": "dspygo", "langchaingo": "langchaingo", "eino": "eino",
}

// spec is one measured configuration: a server setting and a client
// workload.
type spec struct {
	workload string
	n        int
	server   []string
	words    int
}

func (s spec) key() string { return s.workload + "/" + strconv.Itoa(s.n) }

// The workload definition.
func specs(quick bool) []spec {
	w2 := []int{100, 1000, 10000}
	w1calls, w3streams, w4n := 2000, 5, 1000
	if quick {
		w1calls, w3streams = 300, 1
	}
	out := []spec{
		// W1: blocking predict, 1 call at a time, zero server latency.
		{workload: "W1", n: w1calls, words: 20, server: []string{"-words", "20"}},
	}
	// W2: N concurrent blocking calls, 200 ms server latency.
	for _, n := range w2 {
		out = append(out, spec{workload: "W2", n: n, words: 20, server: []string{"-words", "20", "-ttft", "200ms"}})
	}
	out = append(out,
		// W3: one streamed reply of 2,000 chunks: CPU per chunk at full
		// speed, and delivery latency with 1 ms between chunks.
		spec{workload: "W3cpu", n: w3streams, words: 2000, server: []string{"-words", "2000"}},
		spec{workload: "W3lat", n: 1, words: 2000, server: []string{"-words", "2000", "-delay", "1ms", "-stamps"}},
	)
	// W4: 1,000 concurrent streamed replies of 100 chunks, 20 ms apart,
	// measured w4Reps times in each run: its p99 moves most from one
	// measurement to the next (the floor's too), so its medians are of
	// w4Reps × runs.
	for range w4Reps(quick) {
		out = append(out, spec{workload: "W4", n: w4n, words: 100, server: []string{"-words", "100", "-delay", "20ms", "-stamps"}})
	}
	out = append(out, w5Specs(quick)...)   // W5: the serving path (w5.go)
	out = append(out, h2Specs(w2, w4n)...) // W2-h2, W4-h2 (h2.go)
	out = append(out, memSpecs(quick)...)  // Mblock, Mstream, Mlisten: memory per in-flight call (mem.go)
	return out
}

// w4Reps is how many times a run measures W4.
func w4Reps(quick bool) int {
	if quick {
		return 1
	}
	return 3
}

func runAll(args []string) error {
	fs := flag.NewFlagSet("all", flag.ExitOnError)
	runs := fs.Int("runs", 5, "runs of each configuration (medians are reported)")
	quick := fs.Bool("quick", false, "one short run of everything, to check the setup (does not touch README.md)")
	only := fs.String("c", "", "comma-separated contenders (default all)")
	waitQuiet := fs.Duration("wait-quiet", 20*time.Minute, "wait up to this long for the 1-minute load average to fall below -quiet")
	quiet := fs.Float64("quiet", 1.5, "load average below which measuring starts")
	out := fs.String("out", "results", "directory for raw results, summary and plot")
	onlyW := fs.String("w", "", "comma-separated workloads (W1,W2,W3cpu,W3lat,W4,W2-h2,W4-h2; default all; implies not touching README.md)")
	fs.Parse(args)
	if *quick {
		*runs = 1
		*waitQuiet = 0
	}
	if _, err := os.Stat("go.mod"); err != nil {
		return fmt.Errorf("run from the bench directory: %w", err)
	}
	names := contenderNames()
	if *only != "" {
		names = strings.Split(*only, ",")
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	bin, err := os.MkdirTemp("", "godspy-bench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(bin)
	builds := map[string]bool{"": true}
	for _, n := range names {
		builds[buildTags[n]] = true
	}
	for tag := range builds {
		tags := "bench_only"
		if tag != "" {
			tags += ",bench_" + tag
		}
		cmd := exec.Command("go", "build", "-tags", tags, "-o", filepath.Join(bin, "bench-"+tag), ".")
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("build %s: %w", tags, err)
		}
	}

	m := machineInfo()
	m.LoadBefore = waitForQuiet(*waitQuiet, *quiet)
	m.Started = time.Now().UTC().Format(time.RFC3339)
	fmt.Fprintf(os.Stderr, "machine: %s, %d cores, %s; load average %.2f\n", m.CPU, m.Cores, m.Go, m.LoadBefore)

	raw, err := os.Create(filepath.Join(*out, "raw.jsonl"))
	if err != nil {
		return err
	}
	defer raw.Close()
	var all []result
	maxLoad := m.LoadBefore
	for r := range *runs {
		for _, sp := range specs(*quick) {
			if *onlyW != "" && !slices.Contains(strings.Split(*onlyW, ","), sp.workload) {
				continue
			}
			order := append([]string(nil), names...)
			rand.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
			for _, name := range order {
				if !w5Runs(name, sp.workload) {
					continue
				}
				res := measure(bin, name, sp)
				fmt.Fprintf(os.Stderr, "run %d %-6s n=%-5d %-12s cpu/unit %8.0f ns  wall %6.0f ms  rss %4d MB  p99 %7.0f µs  errors %d %s\n",
					r+1, sp.workload, sp.n, name, res.CPUPerUnit, float64(res.WallNs)/1e6, res.PeakRSSKB/1024, float64(res.LatP99Ns)/1e3, res.Errors, res.FirstError)
				all = append(all, res)
				json.NewEncoder(raw).Encode(res)
			}
		}
		maxLoad = max(maxLoad, loadAvg())
	}
	m.LoadMax = maxLoad
	m.LoadAfter = loadAvg()
	m.Runs = *runs
	sum := summarize(all, names)
	if err := writeJSON(filepath.Join(*out, "summary.json"), map[string]any{"machine": m, "medians": sum}); err != nil {
		return err
	}
	table := renderTables(sum, names, m)
	if err := os.WriteFile(filepath.Join(*out, "table.md"), []byte(table), 0o644); err != nil {
		return err
	}
	if *onlyW == "" || slices.Contains(strings.Split(*onlyW, ","), "W2") {
		// The plot is of W2 alone; without its rows it has no data.
		if err := plotW2(sum, names, filepath.Join(*out, "w2.png")); err != nil {
			return err
		}
	}
	fmt.Println(table)
	if !*quick && *onlyW == "" && *only == "" {
		return spliceReadme("README.md", table)
	}
	return nil
}

// measure starts a fresh server, runs one client process against it and
// returns what the client measured.
func measure(bin, name string, sp spec) result {
	bad := func(err error) result {
		return result{Contender: name, Workload: sp.workload, N: sp.n, Errors: sp.n, FirstError: err.Error()}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	srv := exec.CommandContext(ctx, filepath.Join(bin, "bench-"), append([]string{"serve-lm"}, sp.server...)...)
	stdin, err := srv.StdinPipe()
	if err != nil {
		return bad(err)
	}
	stdout, err := srv.StdoutPipe()
	if err != nil {
		return bad(err)
	}
	srv.Stderr = os.Stderr
	if err := srv.Start(); err != nil {
		return bad(err)
	}
	defer srv.Wait()
	defer stdin.Close()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	f := strings.Fields(line)
	if err != nil || len(f) != 4 {
		return bad(fmt.Errorf("serve-lm said %q: %v", line, err))
	}
	cl := exec.CommandContext(ctx, filepath.Join(bin, "bench-"+buildTags[name]), "run", "-c", name, "-w", sp.workload,
		"-n", strconv.Itoa(sp.n), "-words", strconv.Itoa(sp.words), "-url", f[1], "-stamps", f[3], "-timeout", "3m")
	var so, se bytes.Buffer
	cl.Stdout, cl.Stderr = &so, &se
	if err := cl.Run(); err != nil {
		return bad(fmt.Errorf("%v: %s", err, lastLine(se.String())))
	}
	var res result
	if err := json.Unmarshal(so.Bytes(), &res); err != nil {
		return bad(fmt.Errorf("client output %q: %v", so.String(), err))
	}
	return res
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return s
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// spliceReadme replaces the text between the results markers.
func spliceReadme(path, table string) error {
	const start, end = "<!-- results:start -->", "<!-- results:end -->"
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	s := string(b)
	i, j := strings.Index(s, start), strings.Index(s, end)
	if i < 0 || j < i {
		return fmt.Errorf("%s has no %s ... %s markers", path, start, end)
	}
	s = s[:i+len(start)] + "\n" + table + "\n" + s[j:]
	return os.WriteFile(path, []byte(s), 0o644)
}

package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// result is what one client process measured.
type result struct {
	Contender string `json:"contender"`
	Workload  string `json:"workload"`
	N         int    `json:"n"`     // concurrency (W2, W4) or calls/streams measured (W1, W3)
	Units     int    `json:"units"` // calls (W1, W2) or chunks (W3, W4) the per-unit figures divide by
	Supported bool   `json:"supported"`
	Note      string `json:"note,omitempty"`

	WallNs     int64    `json:"wall_ns"`
	CPUNs      int64    `json:"cpu_ns"`
	CPUPerUnit float64  `json:"cpu_per_unit_ns"`
	AllocsPer  float64  `json:"allocs_per_unit"`
	BytesPer   float64  `json:"bytes_per_unit"`
	PeakRSSKB  int64    `json:"peak_rss_kb"`
	StartRSSKB int64    `json:"start_rss_kb"`
	Errors     int      `json:"errors"`
	FirstError string   `json:"first_error,omitempty"`
	LatP50Ns   int64    `json:"lat_p50_ns"`
	LatP99Ns   int64    `json:"lat_p99_ns"`
	LatSamples int      `json:"lat_samples"`
	LatMissing int      `json:"lat_missing"`
	H2         *h2Stats `json:"h2,omitempty"` // W2-h2, W4-h2: what the TLS front counted
}

func cpuNow() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// maxRSSKB is the process's peak RSS. It reads VmHWM, not getrusage's
// ru_maxrss: Linux carries ru_maxrss over fork and exec, so a child of a big
// process would report its parent's size.
func maxRSSKB() int64 { return procStatusKB("VmHWM:") }

func currentRSSKB() int64 { return procStatusKB("VmRSS:") }

func procStatusKB(field string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	return 0
}

func mallocs() (n, bytes uint64) {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.Mallocs, m.TotalAlloc
}

// runClient is the "run" subcommand: one contender, one workload, against
// a server started by serve-lm; prints one JSON result.
func runClient(args []string) error {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	name := fs.String("c", "floor", "contender")
	wl := fs.String("w", "W1", "workload: W1, W2, W3cpu, W3lat, W4")
	url := fs.String("url", "", "API root")
	stampURL := fs.String("stamps", "-", "relay stamps URL")
	n := fs.Int("n", 1, "calls (W1), concurrency (W2, W4), streams (W3cpu)")
	words := fs.Int("words", 20, "reply tokens (must match the server)")
	timeout := fs.Duration("timeout", 2*time.Minute, "bound of the run")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the measured part")
	memProfile := fs.String("memprofile", "", "write an allocation profile at the end")
	fs.Parse(args)
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if *memProfile != "" {
		runtime.MemProfileRate = 512
		defer func() {
			if f, err := os.Create(*memProfile); err == nil {
				pprof.Lookup("allocs").WriteTo(f, 0)
				f.Close()
			}
		}()
	}

	c, ok := contenders[*name]
	if !ok {
		return fmt.Errorf("unknown contender %q", *name)
	}
	res := result{Contender: *name, Workload: *wl, N: *n, Supported: true}
	if err := h2Trust(*url, *stampURL); err != nil {
		return err
	}
	cl, err := c.setup(*url)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	var errMu sync.Mutex
	fail := func(err error) {
		errMu.Lock()
		res.Errors++
		if res.FirstError == "" {
			res.FirstError = err.Error()
		}
		errMu.Unlock()
	}
	callOne := func(id int) {
		got, err := cl.call(ctx, question(id))
		if err == nil {
			err = checkAnswer(id, *words, got)
		}
		if err != nil {
			fail(err)
		}
	}
	var recv [][]int64 // per stream, per word: consumer receive time
	streamOne := func(id int, record bool) {
		var rec []int64
		if record {
			rec = recv[id]
		}
		got, err := cl.stream(ctx, question(id), func(s string) {
			if rec == nil {
				return
			}
			now := time.Now().UnixNano()
			scanTokens([]byte(s), true, false, func(t token) {
				if int(t.stream) == id && int(t.word) < len(rec) && rec[t.word] == 0 {
					rec[t.word] = now
				}
			})
		})
		if err == nil {
			err = checkAnswer(id, *words, got)
		}
		if err != nil {
			fail(err)
		}
	}
	concurrent := func(n int, f func(id int)) {
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				f(i)
			})
		}
		runtime.GC()
		res.StartRSSKB = currentRSSKB()
		t0, c0 := time.Now(), cpuNow()
		close(start)
		wg.Wait()
		res.WallNs, res.CPUNs = time.Since(t0).Nanoseconds(), cpuNow()-c0
	}
	sequential := func(n int, f func(id int)) {
		runtime.GC()
		res.StartRSSKB = currentRSSKB()
		m0, b0 := mallocs()
		t0, c0 := time.Now(), cpuNow()
		for i := range n {
			f(i)
		}
		res.WallNs, res.CPUNs = time.Since(t0).Nanoseconds(), cpuNow()-c0
		m1, b1 := mallocs()
		res.AllocsPer = float64(m1-m0) / float64(res.Units)
		res.BytesPer = float64(b1-b0) / float64(res.Units)
	}

	switch *wl {
	case "W1":
		for i := range 200 { // warm up: connections, pools, caches
			callOne(1_000_000 + i)
		}
		res.Units = *n
		sequential(*n, callOne)
	case "W2", "W2-h2":
		res.Units = *n
		concurrent(*n, callOne)
	case "W3cpu":
		streamOne(1_000_000, false)
		res.Units = *n * *words
		sequential(*n, func(id int) { streamOne(id, false) })
	case "W3lat", "W4", "W4-h2":
		if *wl == "W3lat" {
			streamOne(1_000_000, false)
		}
		recv = make([][]int64, *n)
		for i := range recv {
			recv[i] = make([]int64, *words)
		}
		res.Units = *n * *words
		concurrent(*n, func(id int) { streamOne(id, true) })
		stamps, err := fetchStamps(ctx, *stampURL)
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
	case "W5":
		return runW5(ctx, &res, *url, *stampURL, *words)
	default:
		return fmt.Errorf("unknown workload %q", *wl)
	}
	if res.CPUNs > 0 && res.Units > 0 {
		res.CPUPerUnit = float64(res.CPUNs) / float64(res.Units)
	}
	res.PeakRSSKB = maxRSSKB()
	if res.H2, err = h2Fetch(ctx, *url, *stampURL); err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}

package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

type machine struct {
	CPU        string  `json:"cpu"`
	Cores      int     `json:"cores"`
	Go         string  `json:"go"`
	Started    string  `json:"started"`
	Runs       int     `json:"runs"`
	LoadBefore float64 `json:"load_before"`
	LoadMax    float64 `json:"load_max"`
	LoadAfter  float64 `json:"load_after"`
}

func machineInfo() machine {
	m := machine{Cores: runtime.NumCPU(), Go: runtime.Version(), CPU: "unknown"}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "model name"); ok {
				m.CPU = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	return m
}

// loadAvg is the 1-minute load average.
func loadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return -1
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

// waitForQuiet polls the load average until it is below limit or d has
// passed, and returns the load average then.
func waitForQuiet(d time.Duration, limit float64) float64 {
	end := time.Now().Add(d)
	for {
		l := loadAvg()
		if l < limit || time.Now().After(end) {
			if l >= limit {
				fmt.Fprintf(os.Stderr, "load average %.2f is still above %.2f: measuring anyway\n", l, limit)
			}
			return l
		}
		fmt.Fprintf(os.Stderr, "load average %.2f ≥ %.2f, waiting (until %s)\n", l, limit, end.Format("15:04:05"))
		time.Sleep(30 * time.Second)
	}
}

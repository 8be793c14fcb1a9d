package main

import (
	"fmt"
	"slices"
	"strings"
)

// withoutW5Only drops the contenders that run W5 alone, for the other
// workloads' tables.
func withoutW5Only(names []string) []string {
	return slices.DeleteFunc(slices.Clone(names), func(c string) bool { return !w5Runs(c, "W1") })
}

// renderW5 is the W5 table, of the W5 contenders that ran, for each
// number of clients.
func renderW5(sum map[string]median) string {
	var ns []int
	for _, x := range sum {
		if x.Workload == "W5" && !slices.Contains(ns, x.N) {
			ns = append(ns, x.N)
		}
	}
	if len(ns) == 0 {
		return ""
	}
	slices.Sort(ns)
	var b strings.Builder
	fmt.Fprintf(&b, "\n**W5 serving path** (N concurrent SSE clients → HTTP server → \"question -> answer\" program with a listener on answer → provider stream of 200 chunks 10 ms apart; ideal wall ≈ 2 s; CPU and peak RSS of the server process alone, per token delivered; latency provider write → client read of the SSE event; medians of the %d measurements of each, several per run, as for W4; goal ≤ 1.3× the floor's CPU and p99)\n\n", sum[mkey("floor", "W5", ns[len(ns)-1])].Runs)
	b.WriteString("| contender | N | CPU µs/event | vs floor | p50 ms | p99 ms | p99 vs floor | peak RSS MB | vs floor | wall s | errors |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
	for _, n := range ns {
		f := sum[mkey("floor", "W5", n)]
		for _, c := range w5Contenders {
			x, ok := sum[mkey(c, "W5", n)]
			if !ok {
				continue
			}
			e := fmt.Sprint(x.Errors)
			if x.FirstError != "" {
				msg := x.FirstError
				if len(msg) > 60 {
					msg = msg[:60] + "…"
				}
				e += " (" + strings.ReplaceAll(msg, "|", "/") + ")"
			}
			fmt.Fprintf(&b, "| %s | %d | %.2f | %s | %.2f | %.2f | %s | %.1f | %s | %.2f | %s |\n", c, n,
				x.CPUPerUnit/1e3, ratio(x.CPUPerUnit, f.CPUPerUnit), x.LatP50Ns/1e6, x.LatP99Ns/1e6, ratio(x.LatP99Ns, f.LatP99Ns),
				x.PeakRSSKB/1024, ratio(x.PeakRSSKB, f.PeakRSSKB), x.WallNs/1e9, e)
		}
	}
	return b.String()
}

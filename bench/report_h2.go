package main

import (
	"fmt"
	"strings"
)

// h2Median is the median connection count of a W2-h2 or W4-h2
// configuration and the protocol its requests used.
type h2Median struct {
	Conns float64 `json:"conns"`
	Proto string  `json:"proto"`
}

func medianH2(rs []result) h2Median {
	var conns []float64
	var h1, h2 int64
	for _, r := range rs {
		if r.H2 != nil {
			conns = append(conns, float64(r.H2.Conns))
			h1 += r.H2.H1Requests
			h2 += r.H2.H2Requests
		}
	}
	if len(conns) == 0 {
		return h2Median{}
	}
	m := h2Median{Conns: med(conns), Proto: "HTTP/2"}
	switch {
	case h2 == 0 && h1 == 0:
		m.Proto = "–"
	case h2 == 0:
		m.Proto = "HTTP/1.1"
	case h1 > 0:
		m.Proto = "mixed"
	}
	return m
}

// renderH2 is the W2-h2 / W4-h2 table.
func renderH2(sum map[string]median, names []string) string {
	var b strings.Builder
	get := func(c, w string, n int) (median, bool) { x, ok := sum[mkey(c, w, n)]; return x, ok }
	errs := func(x median) string {
		if x.Errors == 0 {
			return "0"
		}
		e := x.FirstError
		if len(e) > 60 {
			e = e[:60] + "…"
		}
		return fmt.Sprintf("%d (%s)", x.Errors, strings.ReplaceAll(e, "|", "/"))
	}
	found := false
	for _, x := range sum {
		found = found || strings.HasSuffix(x.Workload, "-h2")
	}
	if !found {
		return ""
	}
	b.WriteString("\n**W2-h2 / W4-h2: HTTP/2 over TLS** (W2 and W4 against a TLS server with HTTP/2, net/http's defaults: 250 streams per connection; client CPU from getrusage, TLS included; TCP connections the server accepted during the run; protocol of the requests the server saw)\n\n")
	b.WriteString("| workload | contender | N | wall ms | vs floor | peak RSS MB | vs floor | CPU µs/unit | vs floor | p50 ms | p99 ms | p99 vs floor | TCP conns | protocol | errors |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|\n")
	for _, w := range []string{"W2-h2", "W4-h2"} {
		var ns []int
		for _, n := range []int{100, 1000, 10000} {
			for _, x := range sum {
				if x.Workload == w && x.N == n {
					ns = append(ns, n)
					break
				}
			}
		}
		for _, n := range ns {
			f, _ := get("floor", w, n)
			for _, c := range names {
				x, ok := get(c, w, n)
				if !ok {
					continue
				}
				p50, p99, p99r := "–", "–", "–"
				if w == "W4-h2" {
					p50, p99, p99r = fmt.Sprintf("%.2f", x.LatP50Ns/1e6), fmt.Sprintf("%.2f", x.LatP99Ns/1e6), ratio(x.LatP99Ns, f.LatP99Ns)
				}
				fmt.Fprintf(&b, "| %s | %s | %d | %.0f | %s | %.1f | %s | %s | %s | %s | %s | %s | %.0f | %s | %s |\n", w, c, n,
					x.WallNs/1e6, ratio(x.WallNs, f.WallNs), x.PeakRSSKB/1024, ratio(x.PeakRSSKB, f.PeakRSSKB),
					us(x.CPUPerUnit), ratio(x.CPUPerUnit, f.CPUPerUnit), p50, p99, p99r, x.H2.Conns, x.H2.Proto, errs(x))
			}
		}
	}
	b.WriteString("\nCPU µs/unit is per call for W2-h2, per chunk for W4-h2.\n")
	return b.String()
}

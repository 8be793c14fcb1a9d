package main

import (
	"fmt"
	"strings"
)

// renderMemTable writes the "Memory per in-flight call" table: heap bytes
// each held call keeps live (Mblock, Mstream, Mlisten), against the
// floor's blocking call or stream.
func renderMemTable(b *strings.Builder, sum map[string]median, names []string) {
	var rows []median
	for _, w := range []string{"Mblock", "Mstream", "Mlisten"} {
		for _, c := range names {
			for _, x := range sum {
				if x.Contender == c && x.Workload == w && (x.BytesPer != 0 || x.Errors > 0) {
					rows = append(rows, x)
				}
			}
		}
	}
	if len(rows) == 0 {
		return
	}
	b.WriteString("\n**Memory per in-flight call** (N calls held in flight at once by the server — blocking calls before the response, streams after the first reply word; client live heap after GC, less the baseline before the calls, divided by N; stream+listener is compared with the floor's stream)\n\n")
	b.WriteString("| contender | kind | N | heap bytes/call | vs floor | stack bytes/call | goroutines/call | errors |\n|---|---|---:|---:|---:|---:|---:|---|\n")
	for _, x := range rows {
		fw := x.Workload
		if fw == "Mlisten" {
			fw = "Mstream"
		}
		f := sum[mkey("floor", fw, x.N)]
		errs := fmt.Sprint(x.Errors)
		if x.FirstError != "" {
			e := x.FirstError
			if len(e) > 60 {
				e = e[:60] + "…"
			}
			errs += " (" + strings.ReplaceAll(e, "|", "/") + ")"
		}
		fmt.Fprintf(b, "| %s | %s | %d | %.0f | %s | %.0f | %.1f | %s |\n", x.Contender, memKinds[x.Workload], x.N,
			x.BytesPer, ratio(x.BytesPer, f.BytesPer), x.StackPer, x.GoroutinesPer, errs)
	}
}

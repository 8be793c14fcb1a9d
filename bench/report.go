package main

import (
	"fmt"
	"image/color"
	"slices"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// median is the median of one configuration's runs.
type median struct {
	Contender  string   `json:"contender"`
	Workload   string   `json:"workload"`
	N          int      `json:"n"`
	Runs       int      `json:"runs"`
	CPUPerUnit float64  `json:"cpu_per_unit_ns"`
	AllocsPer  float64  `json:"allocs_per_unit"`
	BytesPer   float64  `json:"bytes_per_unit"`
	WallNs     float64  `json:"wall_ns"`
	PeakRSSKB  float64  `json:"peak_rss_kb"`
	LatP50Ns   float64  `json:"lat_p50_ns"`
	LatP99Ns   float64  `json:"lat_p99_ns"`
	Errors     int      `json:"errors"` // summed over runs
	FirstError string   `json:"first_error,omitempty"`
	H2         h2Median `json:"h2,omitzero"` // W2-h2, W4-h2 (report_h2.go)

	StackPer, GoroutinesPer float64
}

func med(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

type sumKey struct {
	c, w string
	n    int
}

func summarize(all []result, names []string) map[string]median {
	groups := map[sumKey][]result{}
	for _, r := range all {
		k := sumKey{r.Contender, r.Workload, r.N}
		groups[k] = append(groups[k], r)
	}
	out := map[string]median{}
	for k, rs := range groups {
		m := median{Contender: k.c, Workload: k.w, N: k.n, Runs: len(rs)}
		col := func(f func(result) float64) float64 {
			var xs []float64
			for _, r := range rs {
				if r.Units > 0 || r.WallNs > 0 { // skip runs that did not run
					xs = append(xs, f(r))
				}
			}
			return med(xs)
		}
		m.CPUPerUnit = col(func(r result) float64 { return r.CPUPerUnit })
		m.AllocsPer = col(func(r result) float64 { return r.AllocsPer })
		m.BytesPer = col(func(r result) float64 { return r.BytesPer })
		m.WallNs = col(func(r result) float64 { return float64(r.WallNs) })
		m.PeakRSSKB = col(func(r result) float64 { return float64(r.PeakRSSKB) })
		m.LatP50Ns = col(func(r result) float64 { return float64(r.LatP50Ns) })
		m.LatP99Ns = col(func(r result) float64 { return float64(r.LatP99Ns) })
		m.H2 = medianH2(rs)
		m.StackPer, m.GoroutinesPer = col(func(r result) float64 { return r.StackPer }), col(func(r result) float64 { return r.GoroutinesPer })
		for _, r := range rs {
			m.Errors += r.Errors
			if m.FirstError == "" {
				m.FirstError = r.FirstError
			}
		}
		out[mkey(k.c, k.w, k.n)] = m
	}
	return out
}

func mkey(c, w string, n int) string { return fmt.Sprintf("%s|%s|%d", c, w, n) }

func ratio(x, floor float64) string {
	if floor <= 0 || x <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f×", x/floor)
}

func us(ns float64) string { return fmt.Sprintf("%.1f", ns/1e3) }

func renderTables(sum map[string]median, names []string, m machine) string {
	var b strings.Builder
	names = withoutW5Only(names)
	get := func(c, w string, n int) (median, bool) { x, ok := sum[mkey(c, w, n)]; return x, ok }
	findN := func(w string) int {
		for _, x := range sum {
			if x.Workload == w {
				return x.N
			}
		}
		return 0
	}
	w1n, w3n, w4n := findN("W1"), findN("W3cpu"), findN("W4")
	fmt.Fprintf(&b, "Machine: %s, %d cores, %s. Medians of %d runs; started %s; 1-minute load average %.2f at the start, at most %.2f between runs, %.2f at the end.\n\n",
		m.CPU, m.Cores, m.Go, m.Runs, m.Started, m.LoadBefore, m.LoadMax, m.LoadAfter)
	mode := func(c string) string {
		if cc, ok := contenders[c]; ok && cc.fieldStream {
			return "field listener"
		}
		if c == "godspy" {
			return "field listener"
		}
		return "raw chunks (no field listener)"
	}
	errs := func(ms ...median) string {
		n := 0
		for _, x := range ms {
			n += x.Errors
		}
		if n == 0 {
			return "0"
		}
		for _, x := range ms {
			if x.FirstError != "" {
				e := x.FirstError
				if len(e) > 60 {
					e = e[:60] + "…"
				}
				return fmt.Sprintf("%d (%s)", n, strings.ReplaceAll(e, "|", "/"))
			}
		}
		return fmt.Sprint(n)
	}

	b.WriteString("**W1 call overhead** (blocking predict, 1 call at a time, zero server latency; client CPU per call from getrusage) and **W3 streaming** (one reply of 2,000 chunks: client CPU per chunk at full speed; delivery latency server write → consumer event with 1 ms between chunks)\n\n")
	b.WriteString("| contender | W1 CPU µs/call | vs floor | W1 allocs/call | W3 CPU µs/chunk | vs floor | W3 allocs/chunk | W3 p50 µs | W3 p99 µs | W3 events | errors |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|\n")
	f1, _ := get("floor", "W1", w1n)
	f3, _ := get("floor", "W3cpu", w3n)
	for _, c := range names {
		a, _ := get(c, "W1", w1n)
		s, _ := get(c, "W3cpu", w3n)
		l, _ := get(c, "W3lat", 1)
		fmt.Fprintf(&b, "| %s | %s | %s | %.0f | %s | %s | %.1f | %s | %s | %s | %s |\n", c,
			us(a.CPUPerUnit), ratio(a.CPUPerUnit, f1.CPUPerUnit), a.AllocsPer,
			fmt.Sprintf("%.2f", s.CPUPerUnit/1e3), ratio(s.CPUPerUnit, f3.CPUPerUnit), s.AllocsPer,
			us(l.LatP50Ns), us(l.LatP99Ns), mode(c), errs(a, s, l))
	}

	b.WriteString("\n**W2 concurrency** (N concurrent blocking calls, 200 ms server latency; ideal wall = 200 ms; peak RSS of the client process)\n\n")
	b.WriteString("| contender | N | wall ms | vs ideal | vs floor | peak RSS MB | vs floor | errors |\n|---|---:|---:|---:|---:|---:|---:|---|\n")
	for _, n := range []int{100, 1000, 10000} {
		f, _ := get("floor", "W2", n)
		for _, c := range names {
			x, ok := get(c, "W2", n)
			if !ok {
				continue
			}
			fmt.Fprintf(&b, "| %s | %d | %.0f | %.2f× | %s | %.1f | %s | %s |\n", c, n, x.WallNs/1e6, x.WallNs/200e6,
				ratio(x.WallNs, f.WallNs), x.PeakRSSKB/1024, ratio(x.PeakRSSKB, f.PeakRSSKB), errs(x))
		}
	}

	f4, _ := get("floor", "W4", w4n)
	fmt.Fprintf(&b, "\n**W4 concurrent streams** (%d concurrent streamed replies of 100 chunks, 20 ms apart; ideal wall ≈ 2 s; delivery latency server write → consumer event; medians of the %d measurements of each contender, several per run: W4's p99 moves most between measurements)\n\n", w4n, f4.Runs)
	b.WriteString("| contender | wall s | vs floor | peak RSS MB | vs floor | p50 ms | p99 ms | p99 vs floor | events | errors |\n|---|---:|---:|---:|---:|---:|---:|---:|---|---|\n")
	for _, c := range names {
		x, _ := get(c, "W4", w4n)
		fmt.Fprintf(&b, "| %s | %.2f | %s | %.1f | %s | %.2f | %.2f | %s | %s | %s |\n", c, x.WallNs/1e9, ratio(x.WallNs, f4.WallNs),
			x.PeakRSSKB/1024, ratio(x.PeakRSSKB, f4.PeakRSSKB), x.LatP50Ns/1e6, x.LatP99Ns/1e6, ratio(x.LatP99Ns, f4.LatP99Ns), mode(c), errs(x))
	}
	renderMemTable(&b, sum, names)
	b.WriteString(renderH2(sum, names)) // W2-h2 / W4-h2 (report_h2.go)
	return b.String() + renderW5(sum)
}

// plotW2 draws wall time and peak RSS against concurrency (W2), one line
// per contender, side by side in one PNG.
func plotW2(sum map[string]median, names []string, path string) error {
	wall, rss := plot.New(), plot.New()
	wall.Title.Text = "W2: wall time vs concurrency (200 ms server latency)"
	wall.X.Label.Text, wall.Y.Label.Text = "concurrent calls", "wall time (s)"
	rss.Title.Text = "W2: client peak RSS vs concurrency"
	rss.X.Label.Text, rss.Y.Label.Text = "concurrent calls", "peak RSS (MB)"
	for _, p := range []*plot.Plot{wall, rss} {
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = plot.LogTicks{Prec: -1}
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
		p.Legend.Top = true
		p.Legend.Left = true
		p.Add(plotter.NewGrid())
	}
	ideal := plotter.XYs{{X: 100, Y: 0.2}, {X: 10000, Y: 0.2}}
	il, err := plotter.NewLine(ideal)
	if err != nil {
		return err
	}
	il.Color = color.Gray{Y: 150}
	il.Dashes = []vg.Length{vg.Points(4), vg.Points(4)}
	wall.Add(il)
	wall.Legend.Add("ideal", il)
	for i, c := range names {
		var w, r plotter.XYs
		for _, n := range []int{100, 1000, 10000} {
			if x, ok := sum[mkey(c, "W2", n)]; ok && x.WallNs > 0 {
				w = append(w, plotter.XY{X: float64(n), Y: x.WallNs / 1e9})
				r = append(r, plotter.XY{X: float64(n), Y: x.PeakRSSKB / 1024})
			}
		}
		if len(w) == 0 {
			continue
		}
		for _, pair := range []struct {
			p   *plot.Plot
			xys plotter.XYs
		}{{wall, w}, {rss, r}} {
			l, pts, err := plotter.NewLinePoints(pair.xys)
			if err != nil {
				return err
			}
			l.Color = plotutil.Color(i)
			l.Width = vg.Points(1.5)
			pts.Color = plotutil.Color(i)
			pts.Shape = plotutil.Shape(i)
			pair.p.Add(l, pts)
			pair.p.Legend.Add(c, l, pts)
		}
	}
	const width, height = 14 * vg.Inch, 5.5 * vg.Inch
	img := vgimg.New(width, height)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 1, Cols: 2, PadX: vg.Millimeter * 6, PadY: vg.Millimeter * 3, PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 2}
	canvases := plot.Align([][]*plot.Plot{{wall, rss}}, tiles, dc)
	wall.Draw(canvases[0][0])
	rss.Draw(canvases[0][1])
	return savePNG(img, path)
}

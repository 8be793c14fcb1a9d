// Command report turns the -json output of the reliability tests into
// RELIABILITY.md: one table row per row each test recorded, with the
// test's outcome. From the repository root:
//
//	go test -count=1 -json ./reliability | go run ./reliability/cmd/report > RELIABILITY.md
//
// (go generate ./reliability runs exactly that.) It exits non-zero when a
// test failed, when a test recorded no row, or when it read no rows at
// all, so a broken run cannot quietly produce a thin table.
package main

import (
	"bufio"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

const marker = "reliability-row: "

// areas in table order; unknown areas sort last.
var areas = []string{"Provider fault", "Load", "Fleet", "Hostile input", "Secrets", "Panic", "Fuzz corpus"}

type event struct {
	Action  string
	Package string
	Test    string
	Output  string
	Elapsed float64
}

type row struct {
	Area, Tried, Result string
	test                string
}

func main() {
	if err := run(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "report:", err)
		os.Exit(1)
	}
}

func run(r io.Reader, w io.Writer) error {
	var rows []row
	status := map[string]string{} // test -> pass, fail, skip
	partial := map[string]string{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			continue // go test's own lines (build output)
		}
		switch e.Action {
		case "pass", "fail", "skip":
			if e.Test != "" {
				status[e.Test] = e.Action
			} else if e.Action == "fail" {
				status[""] = "fail" // the package failed (TestMain, goleak, build)
			}
		case "output":
			// test2json may split a long line; join the pieces.
			text := partial[e.Test] + e.Output
			if !strings.HasSuffix(text, "\n") {
				partial[e.Test] = text
				continue
			}
			delete(partial, e.Test)
			i := strings.Index(text, marker)
			if i < 0 {
				continue
			}
			var v struct{ Area, Tried, Result string }
			if err := json.Unmarshal([]byte(strings.TrimSpace(text[i+len(marker):])), &v); err != nil {
				return fmt.Errorf("%s: bad row %q: %v", e.Test, text, err)
			}
			rows = append(rows, row{v.Area, v.Tried, v.Result, e.Test})
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if len(rows) == 0 {
		return fmt.Errorf("no rows: pipe in go test -json ./reliability")
	}
	areaRank := func(a string) int {
		if i := slices.Index(areas, a); i >= 0 {
			return i
		}
		return len(areas)
	}
	slices.SortStableFunc(rows, func(a, b row) int {
		return cmp.Or(cmp.Compare(areaRank(a.Area), areaRank(b.Area)), cmp.Compare(a.test, b.test), cmp.Compare(a.Tried, b.Tried))
	})

	var failed, skipped []string
	// A test is covered by a row recorded by it, by one of its subtests, or
	// by a test it is a subtest of (a table test records its row once).
	withRow, ownRow := map[string]bool{}, map[string]bool{}
	for _, r := range rows {
		ownRow[r.test] = true
		for t := r.test; t != ""; t = parent(t) {
			withRow[t] = true
		}
	}
	for t := range status {
		for a := parent(t); a != ""; a = parent(a) {
			if ownRow[a] {
				withRow[t] = true
			}
		}
	}
	for t, s := range status {
		switch {
		case s == "fail":
			failed = append(failed, cmp.Or(t, "(package)"))
		case s == "skip":
			skipped = append(skipped, t)
		case s == "pass" && !withRow[t] && !strings.HasPrefix(t, "Fuzz") && !strings.HasPrefix(t, "Example"):
			failed = append(failed, t+" (passed but recorded no row)")
		}
	}
	slices.Sort(failed)
	slices.Sort(skipped)

	fmt.Fprint(w, `# Reliability

Faults, loads and bad inputs godspy has been put through, and what happened.
Every row is recorded by the named test in `+"`reliability/`"+`, which fails if the
behaviour regresses: [docs/reliability-audit.md](docs/reliability-audit.md) lists,
for each row, a bug planted on purpose and how its test failed. Regenerate
this file from the repository root with

    go generate ./reliability

(which runs `+"`go test -count=1 -json ./reliability | go run ./reliability/cmd/report > RELIABILITY.md`"+`).
The load test runs 1,000 clients, or 200 under `+"`-race`"+`.

| Area | Tried | Result | Test | Outcome |
| --- | --- | --- | --- | --- |
`)
	for _, r := range rows {
		outcome := status[r.test]
		switch outcome {
		case "pass":
			outcome = "pass"
		case "":
			outcome = "?"
		default:
			outcome = strings.ToUpper(outcome)
		}
		fmt.Fprintf(w, "| %s | %s | %s | `%s` | %s |\n", cell(r.Area), cell(r.Tried), cell(r.Result), r.test, outcome)
	}
	if len(skipped) > 0 {
		fmt.Fprintf(w, "\nSkipped in this run: %s.\n", strings.Join(skipped, ", "))
	}
	if len(failed) > 0 {
		fmt.Fprintf(w, "\n**Failed in this run:** %s.\n", strings.Join(failed, ", "))
		return fmt.Errorf("%d tests failed or recorded no row: %s", len(failed), strings.Join(failed, ", "))
	}
	return nil
}

func parent(test string) string {
	i := strings.LastIndex(test, "/")
	if i < 0 {
		return ""
	}
	return test[:i]
}

// cell escapes a table cell.
func cell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}

package reliability

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// fuzzTargets are the fuzz targets of godspy's parsers of untrusted bytes,
// by package directory (relative to the repository root) and name.
var fuzzTargets = []struct{ dir, name, what string }{
	{"internal/sse", "FuzzDecode", "SSE decoding"},
	{"internal/sse", "FuzzJSONDecoder", "SSE chunk JSON decoder (reused state)"},
	{"internal/fieldstream", "FuzzChatFieldParser", "incremental Chat field parser"},
	{"internal/fieldstream", "FuzzXMLFieldParser", "incremental XML field parser"},
	{"internal/fieldstream", "FuzzJSONFieldParser", "incremental JSON field parser (partial JSON)"},
	{"internal/calc", "FuzzCalc", "calculator expressions"},
	{".", "FuzzParseSignature", "signature strings"},
	{".", "FuzzChatParse", "ChatAdapter.Parse"},
	{".", "FuzzJSONParse", "JSONAdapter.Parse"},
	{".", "FuzzXMLParse", "XMLAdapter.Parse"},
	{"lm/openai", "FuzzStreamChunks", "OpenAI stream chunks"},
	{"lm/openai", "FuzzFastChunk", "OpenAI stream chunks, the fast path (decodes as encoding/json does)"},
	{"lm/openai", "FuzzResponsesStream", "OpenAI Responses API stream events"},
	{"lm/anthropic", "FuzzDecodeEvents", "Anthropic stream events"},
	{"lm/cache", "FuzzDecodeResponse", "cache value decoding"},
	{"reliability", "FuzzToolCall", "tool arguments (`Tool.Call`)"},
	{"reliability", "FuzzHandlerBody", "Handler request bodies"},
}

// minCorpus is the least number of inputs a checked-in corpus holds.
const minCorpus = 10

// TestFuzzCorpora checks that every fuzz target still exists, has a corpus
// under its package's testdata/fuzz, and passes on every input of it: it
// runs each package's targets as tests (go test -run '^FuzzX$' replays the
// checked-in corpus through the target), so a target that now fails on an
// input found by fuzzing fails its row here.
func TestFuzzCorpora(t *testing.T) {
	replayed := replayCorpora(t)
	for _, ft := range fuzzTargets {
		t.Run(ft.name, func(t *testing.T) {
			dir := filepath.Join("..", ft.dir)
			decl := regexp.MustCompile(`(?m)^func ` + ft.name + `\(f \*testing\.F\)`)
			tests, _ := filepath.Glob(filepath.Join(dir, "*_test.go"))
			found := false
			for _, f := range tests {
				b, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				found = found || decl.Match(b)
			}
			if !found {
				t.Fatalf("no func %s(f *testing.F) in %s", ft.name, ft.dir)
			}
			files, err := os.ReadDir(filepath.Join(dir, "testdata", "fuzz", ft.name))
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, f := range files {
				b, err := os.ReadFile(filepath.Join(dir, "testdata", "fuzz", ft.name, f.Name()))
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.HasPrefix(b, []byte("go test fuzz v1\n")) {
					t.Errorf("%s is not a fuzz corpus file", f.Name())
				}
				n++
			}
			if n < minCorpus {
				t.Errorf("%d corpus inputs, want at least %d", n, minCorpus)
			}
			if out, ok := replayed[ft.dir+" "+ft.name]; !ok {
				t.Errorf("%s was not run by go test -run '^%s$' ./%s", ft.name, ft.name, ft.dir)
			} else if out != "" {
				t.Errorf("%s fails on its corpus:\n%s", ft.name, out)
			}
			pkg := "./" + strings.TrimPrefix(ft.dir, "./")
			if ft.dir == "." {
				pkg = "."
			}
			row(t, areaFuzz, fmt.Sprintf("`%s` (`%s`): %s", ft.name, ft.dir, ft.what),
				fmt.Sprintf("no crash or failed check on any of the %d inputs kept in `testdata/fuzz/%s` (replayed through the target: `go test -run '^%s$' %s`)", n, ft.name, ft.name, pkg))
		})
	}
}

// replayCorpora runs every package's fuzz targets as tests, once per
// package, and returns for each "dir name" the output of its failure, or ""
// when it passed.
func replayCorpora(t *testing.T) map[string]string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is not on the PATH: %v", err)
	}
	byDir := map[string][]string{}
	var dirs []string
	for _, ft := range fuzzTargets {
		if byDir[ft.dir] == nil {
			dirs = append(dirs, ft.dir)
		}
		byDir[ft.dir] = append(byDir[ft.dir], ft.name)
	}
	results := map[string]string{}
	for _, dir := range dirs {
		cmd := exec.Command(goBin, "test", "-count=1", "-json", "-run", "^("+strings.Join(byDir[dir], "|")+")$", "./"+dir)
		cmd.Dir = ".."
		out, err := cmd.Output()
		outputs := map[string]*strings.Builder{} // by full test name
		failed := map[string][]string{}          // target -> its failed inputs
		dec := json.NewDecoder(bytes.NewReader(out))
		for {
			var ev struct{ Action, Test, Output string }
			if dec.Decode(&ev) != nil {
				break
			}
			name, _, _ := strings.Cut(ev.Test, "/")
			if name == "" {
				continue
			}
			if outputs[ev.Test] == nil {
				outputs[ev.Test] = &strings.Builder{}
			}
			switch ev.Action {
			case "output":
				outputs[ev.Test].WriteString(ev.Output)
			case "pass":
				if ev.Test == name {
					results[dir+" "+name] = ""
				}
			case "fail":
				if ev.Test != name {
					failed[name] = append(failed[name], ev.Test)
					break
				}
				var b strings.Builder
				for _, sub := range failed[name] {
					b.WriteString(outputs[sub].String())
				}
				if b.Len() == 0 {
					b.WriteString(outputs[name].String())
				}
				results[dir+" "+name] = tail(b.String(), 2000)
			}
		}
		if err != nil {
			var ee *exec.ExitError
			if !errors.As(err, &ee) {
				t.Fatalf("go test ./%s: %v", dir, err)
			}
			for _, name := range byDir[dir] {
				if _, ok := results[dir+" "+name]; !ok {
					results[dir+" "+name] = "the package failed to build or run:\n" + tail(string(ee.Stderr)+string(out), 2000)
				}
			}
		}
	}
	return results
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

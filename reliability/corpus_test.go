package reliability

import (
	"bytes"
	"fmt"
	"os"
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
	{"lm/anthropic", "FuzzDecodeEvents", "Anthropic stream events"},
	{"lm/cache", "FuzzDecodeResponse", "cache value decoding"},
	{"reliability", "FuzzToolCall", "tool arguments (`Tool.Call`)"},
	{"reliability", "FuzzHandlerBody", "Handler request bodies"},
}

// minCorpus is the least number of inputs a checked-in corpus holds.
const minCorpus = 10

// TestFuzzCorpora checks that every fuzz target still exists and has a
// corpus under its package's testdata/fuzz, which plain go test replays:
// inputs found by fuzzing stay regression tests.
func TestFuzzCorpora(t *testing.T) {
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
			pkg := "./" + strings.TrimPrefix(ft.dir, "./")
			if ft.dir == "." {
				pkg = "."
			}
			row(t, areaFuzz, fmt.Sprintf("`%s` (`%s`): %s", ft.name, ft.dir, ft.what),
				fmt.Sprintf("no crash; %d inputs kept in `testdata/fuzz/%s`, replayed by `go test %s`", n, ft.name, pkg))
		})
	}
}

package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"go.uber.org/goleak"
)

// binDir holds the dspy binary built once for the tests that run it as a
// process (signals, the browser test).
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "dspy-cmd-test-")
	if err != nil {
		panic(err)
	}
	binDir = dir
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		os.RemoveAll(dir)
		os.Exit(code)
	}))
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// dspyBinary builds the command once and returns the binary's path.
func dspyBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		name := "dspy"
		if runtime.GOOS == "windows" {
			name += ".exe"
		}
		binPath = filepath.Join(binDir, name)
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = err
			binPath = string(out)
		}
	})
	if buildErr != nil {
		t.Fatalf("go build ./cmd/dspy: %v\n%s", buildErr, binPath)
	}
	return binPath
}

// noEnv is an empty environment: no keys, so the demo LM.
func noEnv(string) string { return "" }

// runCmd runs the command in-process and returns its exit code and output.
func runCmd(t *testing.T, getenv func(string) string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &out, &errb, getenv)
	return code, out.String(), errb.String()
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

//go:build unix

package main

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/godspy/dspy/dspytest"
)

// Ctrl-C mid-stream ends `dspy ask` promptly, with exit code 130 and a
// message that says the run was cancelled.
func TestAskInterrupt(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	cmd := exec.Command(dspyBinary(t), "ask", "--lm", "demo", "--demo-delay", "20ms", "Explain ocean tides in detail")
	cmd.Env = append(os.Environ(), "OPENAI_API_KEY=", "DSPY_LM=")
	cmd.Dir = t.TempDir() // no .env
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var seen strings.Builder
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		seen.WriteString(sc.Text() + "\n")
		if sc.Text() == "reasoning:" {
			break // the stream has started
		}
	}
	time.Sleep(100 * time.Millisecond) // a few chunks in
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	sent := time.Now()
	for sc.Scan() {
		seen.WriteString(sc.Text() + "\n")
	}
	err = cmd.Wait()
	if d := time.Since(sent); d > 2*time.Second {
		t.Errorf("exit took %v after the interrupt, want a prompt exit", d)
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitCancelled {
		t.Errorf("exit: %v, want code %d", err, exitCancelled)
	}
	if !strings.Contains(stderr.String(), "cancelled") {
		t.Errorf("stderr %q does not say cancelled", stderr.String())
	}
	if out := seen.String(); strings.Contains(out, "usage:") || strings.Contains(out, "cancelled") {
		t.Errorf("stdout should stop where the stream was cut, with no usage line and no second report of the cancel:\n%s", out)
	}
}

// The binary reads .env from its working directory, without overriding
// variables already set.
func TestDotenvFile(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/.env", []byte("# test\nDSPY_LM=\"nosuch/model\"\nNO_COLOR=1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(env ...string) (string, int) {
		cmd := exec.Command(dspyBinary(t), "ask", "--demo-delay", "0", "q")
		cmd.Dir = dir
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "DSPY_LM=") {
				cmd.Env = append(cmd.Env, kv)
			}
		}
		cmd.Env = append(cmd.Env, env...)
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return string(out), ee.ExitCode()
		}
		return string(out), 0
	}
	if out, code := run(); code != exitUsage || !strings.Contains(out, `unknown LM provider "nosuch"`) {
		t.Errorf(".env sets DSPY_LM=nosuch/model: exit %d, output %q; want exit 2 naming the provider", code, out)
	}
	if out, code := run("DSPY_LM=demo"); code != exitOK || !strings.Contains(firstLine(out), "demo LM") {
		t.Errorf("DSPY_LM=demo set before: exit %d, first line %q; want the demo LM (.env must not override)", code, firstLine(out))
	}

	// A key read from .env is reported as such.
	srv := dspytest.NewServer(dspytest.WithResponder(dspytest.FieldResponder))
	defer srv.Close()
	env := "OPENAI_API_KEY=sk-from-dotenv\nOPENAI_BASE_URL=" + srv.URL() + "\n"
	if err := os.WriteFile(dir+"/.env", []byte(env), 0o600); err != nil {
		t.Fatal(err)
	}
	out, code := runWithout(t, dir, []string{"DSPY_LM", "OPENAI_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "GROQ_API_KEY", "OPENROUTER_API_KEY", "DEEPSEEK_API_KEY"})
	if want := "Using openai/gpt-4o-mini (OPENAI_API_KEY is set in .env)."; code != exitOK || firstLine(out) != want {
		t.Errorf("key in .env: exit %d, first line %q, want %q", code, firstLine(out), want)
	}
}

// runWithout runs "dspy ask q" in dir with the environment minus the
// variables named.
func runWithout(t *testing.T, dir string, drop []string) (string, int) {
	t.Helper()
	cmd := exec.Command(dspyBinary(t), "ask", "--module", "predict", "q")
	cmd.Dir = dir
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(drop, k) {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(out), ee.ExitCode()
	}
	return string(out), 0
}

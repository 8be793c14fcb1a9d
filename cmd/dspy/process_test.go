//go:build unix

package main

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
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
	if out := seen.String(); !strings.Contains(out, "Cancelled.") || strings.Contains(out, "Final prediction") {
		t.Errorf("stdout should end cancelled, without a final prediction:\n%s", out)
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
}

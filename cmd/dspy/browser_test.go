//go:build unix

package main

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBrowser runs browsertest/run.mjs: headless Chromium, driven by
// playwright-core, against `dspy serve` on loopback with the demo LM. It
// is skipped when Chromium, Node.js or browsertest/node_modules is missing,
// unless CI=true, where that is a failure: .ci/setup.d/20-browser.sh
// installs them. The screenshot is kept in $DSPY_ARTIFACTS, else in
// $TMPDIR/dspy-browsertest.
func TestBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser")
	}
	chromium := envOr("CHROMIUM", "/usr/bin/chromium")
	node, nodeErr := exec.LookPath("node")
	var missing []string
	if _, err := os.Stat(chromium); err != nil {
		missing = append(missing, "Chromium at "+chromium+" (apt-get install chromium)")
	}
	if nodeErr != nil {
		missing = append(missing, "node on the PATH")
	}
	if _, err := os.Stat(filepath.Join("browsertest", "node_modules", "playwright-core", "package.json")); err != nil {
		missing = append(missing, "browsertest/node_modules (npm ci --prefix cmd/dspy/browsertest)")
	}
	if len(missing) > 0 {
		msg := "browser test needs " + strings.Join(missing, ", ") + "; .ci/setup.d/20-browser.sh installs them"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}

	url, serverLog, stop := startServe(t, "--lm", "demo", "--debug")
	artifacts := envOr("DSPY_ARTIFACTS", filepath.Join(os.TempDir(), "dspy-browsertest"))
	shot := filepath.Join(artifacts, "dspy-serve.png")

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "run.mjs")
	cmd.Dir = "browsertest"
	cmd.Env = append(os.Environ(), "DSPY_URL="+url, "DSPY_SCREENSHOT="+shot, "CHROMIUM="+chromium,
		"PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1")
	out, err := cmd.CombinedOutput()
	t.Logf("run.mjs:\n%s", out)
	if err != nil {
		t.Fatalf("node run.mjs: %v\nserver log:\n%s", err, serverLog())
	}
	t.Logf("screenshot: %s", shot)
	stop()
	if log := serverLog(); !strings.Contains(log, `msg="run cancelled"`) {
		t.Errorf("the server did not log the cancelled run:\n%s", log)
	}
}

// startServe runs the built `dspy serve` on a free loopback port and
// returns its root URL, a function returning its stderr so far, and a stop
// function (SIGINT, then a check of a clean exit) that also runs at
// cleanup.
func startServe(t *testing.T, args ...string) (url string, stderr func() string, stop func()) {
	t.Helper()
	cmd := exec.Command(dspyBinary(t), append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)...)
	cmd.Dir = t.TempDir() // no .env
	cmd.Env = append(os.Environ(), "DSPY_LM=")
	var errBuf syncBuffer
	cmd.Stderr = &errBuf
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if _, rest, ok := strings.Cut(sc.Text(), "http://"); ok {
				host, _, _ := strings.Cut(rest, "/")
				urls <- "http://" + host
			}
		}
		exited <- cmd.Wait()
	}()
	select {
	case url = <-urls:
	case err := <-exited:
		t.Fatalf("dspy serve exited: %v\n%s", err, errBuf.String())
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-exited
		t.Fatalf("dspy serve did not say where it listens within 30 s\n%s", errBuf.String())
	}
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cmd.Process.Signal(os.Interrupt)
		select {
		case err := <-exited:
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				t.Errorf("dspy serve exited with %v after SIGINT, want 0\n%s", err, errBuf.String())
			}
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-exited
			t.Errorf("dspy serve did not shut down within 15 s of SIGINT")
		}
	}
	t.Cleanup(stop)
	return url, errBuf.String, stop
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

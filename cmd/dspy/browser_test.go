//go:build unix

package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/godspy/dspy/dspytest"
)

// TestBrowser runs browsertest/run.mjs: headless Chromium, driven by
// playwright-core, against `dspy serve` on loopback: the demo LM (a
// ChainOfThought, and a ReAct agent for the timeline), a scripted
// OpenAI-compatible server (a hostile reply, a long one) and a provider
// that refuses connections. It is skipped when Chromium, Node.js or
// browsertest/node_modules is missing, unless CI=true, where that is a
// failure: .ci/setup.d/20-browser.sh installs them. Screenshots are kept in
// $DSPY_ARTIFACTS, else in $TMPDIR/dspy-browsertest.
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

	// Four servers: the demo LM with ChainOfThought (streaming, history,
	// usage, Stop), the demo LM with a ReAct agent (the timeline), a
	// scripted OpenAI-compatible server with hostile and long replies, and
	// a provider that refuses connections (the error's cause on loopback).
	url, serverLog, stop := startServe(t, nil, "--lm", "demo", "--debug")
	reactURL, _, _ := startServe(t, nil, "--lm", "demo", "--module", "react", "--tools", "calculator,clock", "--demo-delay", "2ms")
	scripted := dspytest.NewServer(dspytest.WithResponder(scriptedReply))
	defer scripted.Close()
	key := []string{"OPENAI_API_KEY=sk-browsertest"}
	scriptedURL, _, _ := startServe(t, key, "--lm", "openai/gpt-test", "--base-url", scripted.URL(), "--module", "predict")
	brokenURL, _, _ := startServe(t, key, "--lm", "openai/gpt-test", "--base-url", "http://127.0.0.1:1/v1", "--module", "predict")
	artifacts := envOr("DSPY_ARTIFACTS", filepath.Join(os.TempDir(), "dspy-browsertest"))
	shot := filepath.Join(artifacts, "dspy-serve.png")

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "run.mjs")
	cmd.Dir = "browsertest"
	cmd.Env = append(os.Environ(), "DSPY_URL="+url, "DSPY_REACT_URL="+reactURL, "DSPY_SCRIPTED_URL="+scriptedURL,
		"DSPY_BROKEN_URL="+brokenURL, "DSPY_SCREENSHOT="+shot, "CHROMIUM="+chromium, "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1")
	out, err := cmd.CombinedOutput()
	t.Logf("run.mjs:\n%s", out)
	if err != nil {
		t.Fatalf("node run.mjs: %v\nserver log:\n%s", err, serverLog())
	}
	t.Logf("screenshots: %s", artifacts)
	stop()
	if log := serverLog(); !strings.Contains(log, `msg="run cancelled"`) {
		t.Errorf("the server did not log the cancelled run:\n%s", log)
	}
}

// hostileReply is a model's answer that tries to inject HTML and script
// into the page; it must render as text.
const hostileReply = "Here is **bold**, `code`, a [safe link](https://example.com/x) and a [bad link](javascript:window.__pwned=3).\n" +
	"<img src=x onerror=\"alert(1);window.__pwned=1\">\n" +
	"<script>window.__pwned=2</script>\n" +
	"<b onmouseover=alert(1)>hover</b>"

// scriptedReply answers the scripted server's requests: the hostile reply,
// or for a question asking for "long" a reply of many lines whose last is
// "The last line.".
func scriptedReply(req *dspytest.ChatRequest) dspytest.Answer {
	q := req.Messages[len(req.Messages)-1].Content
	if strings.Contains(q, "long") {
		var b strings.Builder
		for i := 1; i <= 60; i++ {
			fmt.Fprintf(&b, "- point %d of a long answer\n", i)
		}
		b.WriteString("\nThe last line.")
		return dspytest.Answer{Text: dspytest.ChatReply("answer", b.String())}
	}
	return dspytest.Answer{Text: dspytest.ChatReply("answer", hostileReply)}
}

// startServe runs the built `dspy serve` on a free loopback port and
// returns its root URL (env adds to its environment), a function returning its stderr so far, and a stop
// function (SIGINT, then a check of a clean exit) that also runs at
// cleanup.
func startServe(t *testing.T, env []string, args ...string) (url string, stderr func() string, stop func()) {
	t.Helper()
	cmd := exec.Command(dspyBinary(t), append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)...)
	cmd.Dir = t.TempDir() // no .env
	cmd.Env = append(append(os.Environ(), "DSPY_LM="), env...)
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

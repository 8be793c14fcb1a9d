package streaming_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestAISDKClient runs aisdktest/chat.test.mjs: the Vercel AI SDK's own
// client (the ai package, the version pinned in aisdktest/package-lock.json)
// sends useChat's requests to UIMessageHandler and assembles the replies
// with the SDK's parser and UI-message reader. It is skipped when Node.js or
// aisdktest/node_modules is missing, unless CI=true, where that is a
// failure: .ci/setup.d/25-aisdk.sh installs them.
func TestAISDKClient(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Node.js")
	}
	node, err := exec.LookPath("node")
	var missing []string
	if err != nil {
		missing = append(missing, "node on the PATH")
	}
	if _, err := os.Stat(filepath.Join("aisdktest", "node_modules", "ai", "package.json")); err != nil {
		missing = append(missing, "aisdktest/node_modules (npm ci --prefix streaming/aisdktest)")
	}
	if len(missing) > 0 {
		msg := "the AI SDK test needs " + missing[0]
		if len(missing) > 1 {
			msg += " and " + missing[1]
		}
		msg += "; .ci/setup.d/25-aisdk.sh installs them"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	srv := chatServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "--test", "--test-reporter=spec", "chat.test.mjs")
	cmd.Dir = "aisdktest"
	cmd.Env = append(os.Environ(), "DSPY_CHAT_URL="+srv.URL)
	out, err := cmd.CombinedOutput()
	t.Logf("node --test chat.test.mjs:\n%s", out)
	if err != nil {
		t.Fatalf("node --test chat.test.mjs: %v", err)
	}
}

package demo

import (
	"testing"

	"github.com/godspy/dspy/dspytest"
)

// Offline makes an example's test run on the offline LM without delays,
// whatever the environment holds.
func Offline(t testing.TB) {
	t.Helper()
	t.Setenv("OPENAI_API_KEY", "")
	t.Setenv("DSPY_LM", "")
	SetFast()
}

// ServeOpenAI starts an OpenAI-compatible test server and points the
// examples' LM choice at it (DSPY_LM=openai/gpt-4o-mini with its base URL),
// so an example runs unchanged over HTTP. The server closes when the test
// ends.
func ServeOpenAI(t testing.TB, opts ...dspytest.ServerOption) *dspytest.Server {
	t.Helper()
	srv := dspytest.NewServer(opts...)
	t.Cleanup(srv.Close)
	t.Setenv("DSPY_LM", "openai/gpt-4o-mini")
	t.Setenv("OPENAI_API_KEY", "sk-test")
	t.Setenv("OPENAI_BASE_URL", srv.URL())
	return srv
}

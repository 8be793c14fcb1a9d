package dspy

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/godspy/dspy/dspytest"
	"github.com/godspy/dspy/internal/replay"
	"github.com/godspy/dspy/lm"
	"github.com/godspy/dspy/lm/anthropic"
	"github.com/godspy/dspy/lm/openai"
)

// clearLMEnv unsets every variable NewLM reads, so the machine's own keys
// cannot change a test.
func clearLMEnv(t *testing.T) {
	for _, p := range presets {
		t.Setenv(p.keyEnv, "")
		t.Setenv(p.baseEnv, "")
	}
	t.Setenv("AZURE_API_VERSION", "")
}

func TestNewLMOverHTTP(t *testing.T) {
	clearLMEnv(t)
	srv := dspytest.NewServer(dspytest.WithRequiredAPIKey("sk-test"))
	defer srv.Close()
	tests := []struct {
		name string
		env  map[string]string
		opts []LMOption
	}{
		{"openai/gpt-4o-mini", nil, []LMOption{WithBaseURL(srv.URL()), WithAPIKey("sk-test")}},
		{"openai/gpt-4o-mini", map[string]string{"OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": srv.URL()}, nil},
		{"groq/llama-3.3-70b", map[string]string{"GROQ_API_KEY": "sk-test"}, []LMOption{WithBaseURL(srv.URL())}},
		{"hosted_vllm/meta-llama/Llama-3.1-8B", map[string]string{"HOSTED_VLLM_API_BASE": srv.URL(), "HOSTED_VLLM_API_KEY": "sk-test"}, nil},
		{"openrouter/anthropic/claude-sonnet-4.5", map[string]string{"OPENROUTER_API_KEY": "sk-test"}, []LMOption{WithBaseURL(srv.URL()), WithRetry(lm.NoRetry())}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			m, err := NewLM(tt.name, append(tt.opts, WithTemperature(0.1), WithMaxTokens(77))...)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := m.Generate(t.Context(), &lm.Request{Messages: []lm.Message{{Role: lm.RoleUser, Content: "hi"}}})
			if err != nil {
				t.Fatal(err)
			}
			if resp.Text() == "" {
				t.Error("empty answer")
			}
			reqs := srv.Requests()
			last := reqs[len(reqs)-1].Body
			_, model, _ := strings.Cut(tt.name, "/")
			if last.Model != model || last.Temperature == nil || *last.Temperature != 0.1 {
				t.Errorf("sent model %q temperature %v", last.Model, last.Temperature)
			}
		})
	}
}

func TestNewLMPresets(t *testing.T) {
	tests := []struct {
		name     string
		env      map[string]string
		provider string
	}{
		{"ollama_chat/llama3.1", nil, "ollama"},
		{"gemini/gemini-2.0-flash", map[string]string{"GEMINI_API_KEY": "k"}, "gemini"},
		{"together_ai/meta-llama/Llama-3.3-70B", map[string]string{"TOGETHERAI_API_KEY": "k"}, "together_ai"},
		{"deepseek/deepseek-chat", map[string]string{"DEEPSEEK_API_KEY": "k"}, "deepseek"},
		{"fireworks_ai/accounts/fireworks/models/x", map[string]string{"FIREWORKS_AI_API_KEY": "k"}, "fireworks_ai"},
		{"azure/my-deployment", map[string]string{"AZURE_API_KEY": "k", "AZURE_API_BASE": "https://x.openai.azure.com"}, "azure"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearLMEnv(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			m, err := NewLM(tt.name)
			if err != nil {
				t.Fatal(err)
			}
			c, ok := findLM[*openai.Client](m)
			if !ok || c.Provider() != tt.provider {
				t.Fatalf("got %T", m)
			}
			_, model, _ := strings.Cut(tt.name, "/")
			if c.Model() != model {
				t.Errorf("model %q, want %q", c.Model(), model)
			}
		})
	}
	t.Run("anthropic", func(t *testing.T) {
		clearLMEnv(t)
		t.Setenv("ANTHROPIC_API_KEY", "k")
		m, err := NewLM("anthropic/claude-sonnet-4-5")
		if c, ok := findLM[*anthropic.Client](m); err != nil || !ok || c.Model() != "claude-sonnet-4-5" {
			t.Fatalf("got %T, %v", m, err)
		}
	})
	t.Run("limits", func(t *testing.T) {
		clearLMEnv(t)
		m, err := NewLM("ollama_chat/llama3.1", WithLimits(lm.Limits{MaxInFlight: 4}))
		if _, ok := findLM[*lm.Limited](m); err != nil || !ok {
			t.Fatalf("got %T, %v", m, err)
		}
	})
}

func TestNewLMErrors(t *testing.T) {
	tests := []struct {
		name  string
		is    error
		wants []string
	}{
		{"nope/model", ErrUnknownProvider, []string{`"nope"`, "openai", "anthropic", "ollama_chat", "gemini"}},
		{"gpt-4o", nil, []string{"provider/model", "openai"}},
		{"openai/gpt-4o", ErrMissingAPIKey, []string{"OPENAI_API_KEY"}},
		{"anthropic/claude", ErrMissingAPIKey, []string{"ANTHROPIC_API_KEY"}},
		{"groq/llama", ErrMissingAPIKey, []string{"GROQ_API_KEY"}},
		{"together_ai/x", ErrMissingAPIKey, []string{"TOGETHERAI_API_KEY"}},
		{"hosted_vllm/x", nil, []string{"HOSTED_VLLM_API_BASE", "WithBaseURL"}},
		{"azure/dep", nil, []string{"AZURE_API_BASE"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearLMEnv(t)
			m, err := NewLM(tt.name)
			if err == nil {
				t.Fatalf("NewLM = %T, want error", m)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("err = %v, want %v", err, tt.is)
			}
			for _, w := range tt.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("err %q does not mention %q", err, w)
				}
			}
		})
	}
}

// NewLM, the documented front door, has the providers' stall protection by
// default: 60 s of silence ends a stream, 10 min a blocking call (checked
// on synctest's fake clock by the providers' own stall suite).
func TestNewLMStallProtectionByDefault(t *testing.T) {
	for _, tc := range []struct {
		name string
		wire replay.Wire
	}{{"openai", replay.OpenAIWire()}, {"anthropic", replay.AnthropicWire()}} {
		t.Run(tc.name, func(t *testing.T) {
			replay.StallTests(t, tc.wire, func(hc *http.Client) lm.LM {
				m, err := NewLM(tc.name+"/m", WithBaseURL("http://godspy.invalid"), WithAPIKey("sk-x"),
					WithHTTPClient(hc), WithRetry(lm.NoRetry()), WithCache(nil))
				if err != nil {
					t.Fatal(err)
				}
				return m
			})
		})
	}
}

// WithIdleTimeout reaches the provider: a stall ends at the given timeout.
func TestNewLMIdleTimeout(t *testing.T) {
	for _, provider := range []string{"openai", "anthropic"} {
		t.Run(provider, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				hc := &http.Client{Transport: &replay.PacedTransport{HeaderDelay: time.Hour}}
				m, err := NewLM(provider+"/m", WithBaseURL("http://godspy.invalid"), WithAPIKey("sk-x"),
					WithHTTPClient(hc), WithRetry(lm.NoRetry()), WithCache(nil), WithIdleTimeout(5*time.Second), WithTimeout(7*time.Second))
				if err != nil {
					t.Fatal(err)
				}
				start := time.Now()
				_, err = lm.Collect(m.Stream(t.Context(), hiRequest()))
				if !errors.Is(err, lm.ErrStreamIdle) || time.Since(start) != 5*time.Second {
					t.Errorf("stream: %v after %v, want lm.ErrStreamIdle after 5s", err, time.Since(start))
				}
				start = time.Now()
				_, err = m.Generate(t.Context(), hiRequest())
				if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != 7*time.Second {
					t.Errorf("blocking: %v after %v, want DeadlineExceeded after 7s", err, time.Since(start))
				}
			})
		})
	}
}

func TestLMFromEnv(t *testing.T) {
	clearLMEnv(t)
	t.Setenv("DSPY_LM", "")
	if _, err := LMFromEnv(); !errors.Is(err, ErrNoLMInEnv) {
		t.Fatalf("empty environment: %v, want ErrNoLMInEnv", err)
	}
	t.Setenv("ANTHROPIC_API_KEY", "sk-ant-x")
	if name, from := LMNameFromEnv(); name != "anthropic/claude-sonnet-4-5" || from != "ANTHROPIC_API_KEY" {
		t.Errorf("with ANTHROPIC_API_KEY: %q from %q", name, from)
	}
	t.Setenv("OPENAI_API_KEY", "sk-x")
	if name, from := LMNameFromEnv(); name != "openai/gpt-4o-mini" || from != "OPENAI_API_KEY" {
		t.Errorf("with both keys: %q from %q, want OpenAI first", name, from)
	}
	t.Setenv("DSPY_LM", "ollama_chat/llama3.2")
	m, err := LMFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if p, model := lm.Identify(m); p != "ollama" || model != "llama3.2" {
		t.Errorf("DSPY_LM: LMFromEnv() = %s/%s, want ollama/llama3.2", p, model)
	}
}

// A server of one's own needs no key: with a base URL other than the
// provider's, NewLM builds the LM and sends no Authorization header.
func TestNewLMOwnServerWithoutKey(t *testing.T) {
	clearLMEnv(t)
	srv := dspytest.NewServer()
	defer srv.Close()
	m, err := NewLM("openai/local-model", WithBaseURL(srv.URL()))
	if err != nil {
		t.Fatalf("NewLM with a base URL and no key: %v", err)
	}
	if _, err := m.Generate(t.Context(), hiRequest()); err != nil {
		t.Fatal(err)
	}
	if h := srv.Requests()[0].Header.Get("Authorization"); h != "" {
		t.Errorf("Authorization header %q sent without a key", h)
	}
	t.Setenv("OPENAI_BASE_URL", srv.URL()) // the base-URL variable counts too
	if _, err := NewLM("openai/local-model"); err != nil {
		t.Errorf("NewLM with OPENAI_BASE_URL and no key: %v", err)
	}
}

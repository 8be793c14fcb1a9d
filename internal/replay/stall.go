package replay

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/godspy/dspy/lm"
)

// Wire says how a provider's stream carries things, for StallTests.
type Wire struct {
	Head      string              // events before the first text ("" if none)
	Text      func(string) string // an event that delivers text
	KeepAlive string              // what the server sends while the model thinks
	End       string              // the events that end a stream well
}

// OpenAIWire is the chat-completions stream, for StallTests.
func OpenAIWire() Wire {
	return Wire{
		Text: func(s string) string {
			return `data: {"id":"c","choices":[{"index":0,"delta":{"content":` + strconv.Quote(s) + `},"finish_reason":null}]}` + "\n\n"
		},
		KeepAlive: ": OPENROUTER PROCESSING\n\n",
		End:       `data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}` + "\n\ndata: [DONE]\n\n",
	}
}

// ResponsesWire is OpenAI's Responses API stream, for StallTests. Its
// keep-alive is an SSE comment, as OpenRouter sends while the model thinks.
func ResponsesWire() Wire {
	return Wire{
		Head: "event: response.created\ndata: {\"type\":\"response.created\",\"response\":{\"id\":\"resp_1\",\"model\":\"gpt-x\",\"status\":\"in_progress\"}}\n\n",
		Text: func(s string) string {
			return "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"output_index\":0,\"content_index\":0,\"delta\":" + strconv.Quote(s) + "}\n\n"
		},
		KeepAlive: ": OPENROUTER PROCESSING\n\n",
		End:       "event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"id\":\"resp_1\",\"model\":\"gpt-x\",\"status\":\"completed\",\"usage\":{\"input_tokens\":5,\"output_tokens\":2,\"total_tokens\":7}}}\n\n",
	}
}

// AnthropicWire is the Messages stream, for StallTests.
func AnthropicWire() Wire {
	return Wire{
		Head: "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"model\":\"claude-x\",\"usage\":{\"input_tokens\":5,\"output_tokens\":1}}}\n\n" +
			"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
		Text: func(s string) string {
			return "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":" + strconv.Quote(s) + "}}\n\n"
		},
		KeepAlive: "event: ping\ndata: {\"type\": \"ping\"}\n\n",
		End: "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n" +
			"event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":2}}\n\n" +
			"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
	}
}

// StallTests checks a provider's stall protection with its default
// timeouts (60 s idle for a stream, 10 min for a blocking call) on
// synctest's fake clock, so nothing sleeps: a stream longer than the idle
// timeout whose events (or keep-alives) come more often survives, so the
// timer is re-armed; a silent server ends the stream with lm.ErrStreamIdle
// exactly one idle timeout after the last byte, keeping what arrived; a
// consumer slower than the timeout is not taken for a stall. newLM returns
// the provider's client over hc, without retries and without timeout
// options.
func StallTests(t *testing.T, w Wire, newLM func(hc *http.Client) lm.LM) {
	const idle = 60 * time.Second
	req := &lm.Request{Messages: []lm.Message{{Role: lm.RoleUser, Content: "hi"}}}
	paced := func(after time.Duration, texts ...string) []Paced {
		out := []Paced{{Data: w.Head}}
		for _, s := range texts {
			out = append(out, Paced{After: after, Data: w.Text(s)})
		}
		return out
	}
	tests := []struct {
		name     string
		tr       PacedTransport
		slow     time.Duration // the consumer's time per chunk
		text     string
		idleErr  bool
		duration time.Duration // from the request to the stream's end
	}{
		{"events every 40s for 240s", PacedTransport{Events: append(paced(40*time.Second, "a", "b", "c", "d", "e"), Paced{After: 40 * time.Second, Data: w.End})},
			0, "abcde", false, 240 * time.Second},
		{"keep-alives every 50s while the model thinks", PacedTransport{Events: append(append(paced(0), repeat(Paced{After: 50 * time.Second, Data: w.KeepAlive}, 4)...),
			Paced{After: 50 * time.Second, Data: w.Text("x")}, Paced{Data: w.End})},
			0, "x", false, 250 * time.Second},
		{"silent after two events", PacedTransport{Events: paced(10*time.Second, "a", "b"), Stall: true},
			0, "ab", true, 20*time.Second + idle},
		{"no response headers", PacedTransport{HeaderDelay: time.Hour},
			0, "", true, idle},
		{"consumer slower than the idle timeout", PacedTransport{Events: append(paced(0, "a", "b", "c"), Paced{Data: w.End})},
			90 * time.Second, "abc", false, 4 * 90 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				m := newLM(&http.Client{Transport: &tt.tr})
				start := time.Now()
				var text strings.Builder
				var err error
				for ch, e := range m.Stream(t.Context(), req) {
					if e != nil {
						err = e
						break
					}
					text.WriteString(ch.Text)
					time.Sleep(tt.slow)
				}
				if d := time.Since(start); d != tt.duration {
					t.Errorf("stream ended after %v, want %v", d, tt.duration)
				}
				if got := errors.Is(err, lm.ErrStreamIdle); got != tt.idleErr {
					t.Fatalf("err = %v, want idle timeout: %v", err, tt.idleErr)
				}
				if !tt.idleErr && err != nil {
					t.Fatalf("err = %v", err)
				}
				var se *lm.StreamError
				if tt.text != "" && tt.idleErr && (!errors.As(err, &se) || se.Partial.Text() != tt.text) {
					t.Errorf("err = %v, want an *lm.StreamError keeping %q", err, tt.text)
				}
				if text.String() != tt.text {
					t.Errorf("delivered %q, want %q", text.String(), tt.text)
				}
			})
		})
	}
	t.Run("blocking call bounded at 10 min", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			m := newLM(&http.Client{Transport: &PacedTransport{HeaderDelay: time.Hour}})
			start := time.Now()
			_, err := m.Generate(t.Context(), req)
			if d := time.Since(start); d != 10*time.Minute || !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Generate = %v after %v, want a deadline error after 10m", err, d)
			}
		})
	})
}

func repeat(p Paced, n int) []Paced {
	out := make([]Paced, n)
	for i := range out {
		out[i] = p
	}
	return out
}

// ConfigErrorTests checks that a client whose base URL has a scheme
// net/http cannot send fails at once, blocking and streaming: no backoff
// wait on synctest's fake clock, an error matching lm.ErrConfig and not
// retryable, naming url (the full endpoint) and not key. m is built with
// that URL and key and the default retry policy.
func ConfigErrorTests(t *testing.T, m func() lm.LM, url, key string) {
	synctest.Test(t, func(t *testing.T) {
		c := m()
		req := &lm.Request{Messages: []lm.Message{{Role: lm.RoleUser, Content: "x"}}}
		start := time.Now()
		_, gerr := c.Generate(t.Context(), req)
		_, serr := lm.Collect(c.Stream(t.Context(), req))
		if d := time.Since(start); d != 0 {
			t.Errorf("took %v: a configuration error was retried", d)
		}
		for _, err := range []error{gerr, serr} {
			if !errors.Is(err, lm.ErrConfig) || lm.Retryable(err) {
				t.Errorf("err = %v, want lm.ErrConfig, not retryable", err)
			}
			if msg := err.Error(); !strings.Contains(msg, url) || strings.Contains(msg, key) {
				t.Errorf("err = %q, want the URL %s and no key", msg, url)
			}
		}
	})
}

package reliability

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/godspy/dspy"
	"github.com/godspy/dspy/internal/replay"
	"github.com/godspy/dspy/lm"
	"github.com/godspy/dspy/lm/openai"
)

// Stall protection through the front door: an LM from dspy.NewLM, with
// its defaults, on synctest's fake clock (so the minutes pass instantly).
func TestStallThroughNewLM(t *testing.T) {
	for _, tc := range []struct {
		provider string
		wire     replay.Wire
	}{{"openai", replay.OpenAIWire()}, {"anthropic", replay.AnthropicWire()}} {
		t.Run(tc.provider, func(t *testing.T) {
			newLM := func(tr http.RoundTripper) lm.LM {
				m, err := dspy.NewLM(tc.provider+"/model-x", dspy.WithBaseURL("http://provider.invalid"), dspy.WithAPIKey(testKey),
					dspy.WithHTTPClient(&http.Client{Transport: tr}), dspy.WithRetry(lm.NoRetry()), dspy.WithCache(nil))
				if err != nil {
					t.Fatal(err)
				}
				return m
			}
			req := &lm.Request{Messages: []lm.Message{{Role: lm.RoleUser, Content: "hi"}}}
			synctest.Test(t, func(t *testing.T) {
				// A healthy stream far longer than the idle timeout: an event every 40 s for 200 s.
				events := []replay.Paced{{Data: tc.wire.Head}}
				for _, s := range []string{"a", "b", "c", "d", "e"} {
					events = append(events, replay.Paced{After: 40 * time.Second, Data: tc.wire.Text(s)})
				}
				events = append(events, replay.Paced{Data: tc.wire.End})
				resp, err := lm.Collect(newLM(&replay.PacedTransport{Events: events}).Stream(t.Context(), req))
				if err != nil || resp.Text() != "abcde" {
					t.Fatalf("healthy 200 s stream: %v, text %q", err, resp.Text())
				}
				// A stall after two chunks.
				start := time.Now()
				var got strings.Builder
				var serr error
				for c, err := range newLM(&replay.PacedTransport{Events: events[:3], Stall: true}).Stream(t.Context(), req) {
					if err != nil {
						serr = err
						break
					}
					got.WriteString(c.Text)
				}
				var se *lm.StreamError
				if !errors.Is(serr, lm.ErrStreamIdle) || !errors.As(serr, &se) || se.Partial.Text() != "ab" || got.String() != "ab" {
					t.Fatalf("stall: err %v, delivered %q; want lm.ErrStreamIdle keeping \"ab\"", serr, got.String())
				}
				if d := time.Since(start); d != 80*time.Second+openai.DefaultIdleTimeout {
					t.Errorf("the stall ended after %v, want the two 40 s gaps plus the 60 s idle timeout", d)
				}
			})
			row(t, areaFault, tc.provider+" through `dspy.NewLM` with its defaults: a stream silent after two chunks, and a healthy stream of 200 s with an event every 40 s (synctest clock)",
				"the silent stream ends with `lm.ErrStreamIdle` exactly 60 s after its last byte, the two chunks delivered and kept in the `*lm.StreamError`; the healthy stream completes (the timer is re-armed on every event)")
		})
	}
}

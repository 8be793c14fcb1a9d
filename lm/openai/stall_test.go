package openai_test

import (
	"net/http"
	"strconv"
	"testing"

	"github.com/godspy/dspy/internal/replay"
	"github.com/godspy/dspy/lm"
	"github.com/godspy/dspy/lm/openai"
)

func TestStallProtection(t *testing.T) {
	replay.StallTests(t, replay.Wire{
		Text: func(s string) string {
			return `data: {"id":"c","choices":[{"index":0,"delta":{"content":` + strconv.Quote(s) + `},"finish_reason":null}]}` + "\n\n"
		},
		KeepAlive: ": OPENROUTER PROCESSING\n\n",
		End:       `data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}` + "\n\ndata: [DONE]\n\n",
	}, func(hc *http.Client) lm.LM {
		return openai.New("m", openai.WithHTTPClient(hc), openai.WithRetry(lm.NoRetry()))
	})
}

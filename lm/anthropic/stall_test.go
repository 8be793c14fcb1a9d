package anthropic_test

import (
	"net/http"
	"strconv"
	"testing"

	"github.com/godspy/dspy/internal/replay"
	"github.com/godspy/dspy/lm"
	"github.com/godspy/dspy/lm/anthropic"
)

func TestStallProtection(t *testing.T) {
	replay.StallTests(t, replay.Wire{
		Head: "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"model\":\"claude-x\",\"usage\":{\"input_tokens\":5,\"output_tokens\":1}}}\n\n" +
			"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
		Text: func(s string) string {
			return "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":" + strconv.Quote(s) + "}}\n\n"
		},
		KeepAlive: "event: ping\ndata: {\"type\": \"ping\"}\n\n",
		End: "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n" +
			"event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":2}}\n\n" +
			"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
	}, func(hc *http.Client) lm.LM {
		return anthropic.New("m", anthropic.WithHTTPClient(hc), anthropic.WithRetry(lm.NoRetry()))
	})
}

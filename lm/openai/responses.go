package openai

import (
	"context"
	"iter"
	"net/http"
	"strings"

	"github.com/godspy/dspy/internal/provider"
	"github.com/godspy/dspy/lm"
)

// Responses calls one model through OpenAI's Responses API (POST
// /v1/responses), which current OpenAI models need for reasoning summaries
// and which OpenRouter, DeepSeek, vLLM and Ollama also serve. It is an
// lm.LM like Client, with the same options, retries, timeouts and errors;
// it is safe for concurrent use.
//
// The request is the chat-completions request mapped as DSPy maps it:
// system, user and assistant messages become input messages, an
// assistant's tool calls function_call items, tool results
// function_call_output items; MaxTokens is max_output_tokens and
// ResponseFormat text.format. Reasoning options go in Extra, e.g.
// {"reasoning": {"effort": "low", "summary": "auto"}}; a chat-style
// "reasoning_effort" is turned into that form. The client sends
// "store": false, since it sends the whole conversation every time and
// never refers to a stored response; Extra {"store": true} keeps them. The
// Responses API has no n, stop or seed: a request with N > 1, Stop or Seed
// fails with lm.ErrConfig before it is sent.
//
// Reasoning arrives as Chunk.Reasoning: reasoning summaries, or the
// reasoning text that open models send, parts separated by a blank line.
// WithMaxTokensField has no effect here.
type Responses struct {
	c *Client
}

// NewResponses returns a Responses client for model. The options are those
// of New; WithBaseURL is the API root to which "/responses" is appended (in
// Azure mode the resource endpoint, to which "/openai/v1/responses" is
// appended: Azure serves the Responses API in its v1 API, which takes no
// api-version).
func NewResponses(model string, opts ...Option) *Responses {
	c := newClient(model, opts)
	c.endpoint = c.responsesURL()
	return &Responses{c: c}
}

func (c *Client) responsesURL() string {
	base := strings.TrimRight(c.baseURL, "/")
	if c.azure && !strings.Contains(base, "/openai/v1") {
		base += "/openai/v1"
	}
	return base + "/responses"
}

// Model returns the model name requests use by default.
func (r *Responses) Model() string { return r.c.model }

// Provider returns the provider name used in errors ("openai" unless
// WithProvider says otherwise).
func (r *Responses) Provider() string { return r.c.provider }

// BaseURL returns the URL the client posts to: the API root followed by
// "/responses". Unlike Client.BaseURL it names the endpoint, not the root,
// because the cache keys on it (lm.Endpoint): the Responses and the
// chat-completions clients of one model and server must never answer from
// each other's cache entries.
func (r *Responses) BaseURL() string { return r.c.endpoint }

// String names the client without its API key.
func (r *Responses) String() string {
	return "openai.Responses(" + r.c.provider + "/" + r.c.model + ")"
}

// GoString is String, for %#v.
func (r *Responses) GoString() string { return r.String() }

// Generate makes a blocking Responses call, retrying as the client's policy
// allows. A response that failed is an *lm.APIError; one cut short
// (status "incomplete") is returned with finish reason "length" or
// "content_filter".
func (r *Responses) Generate(ctx context.Context, req *lm.Request) (*lm.Response, error) {
	c := r.c
	body, err := r.encode(req, false)
	if err != nil {
		return nil, c.redact.Error(err)
	}
	return c.generate(ctx, provider.NewBody(body, func() ([]byte, error) { return r.encode(req, false) }), r.decodeResponse)
}

// Stream makes a streaming Responses call (stream: true). The request is
// sent when iteration starts; breaking out cancels it. Failures before the
// first chunk are retried as the policy allows, an error event or a
// failed response among them when its code says it can succeed later
// (rate_limit_exceeded, insufficient_quota, server_error: see the status
// mapping in docs/decisions.md); a failure after it ends the stream
// with an *lm.StreamError that holds what was received. A stream that ends
// before response.completed (or response.incomplete) fails with an error
// wrapping io.ErrUnexpectedEOF.
func (r *Responses) Stream(ctx context.Context, req *lm.Request) iter.Seq2[lm.Chunk, error] {
	c := r.c
	return func(yield func(lm.Chunk, error) bool) {
		yield = c.redact.Yield(yield)
		body, err := r.encode(req, true)
		if err != nil {
			yield(lm.Chunk{}, err)
			return
		}
		st := &respState{}
		rb := provider.NewBody(body, func() ([]byte, error) { return r.encode(req, true) })
		c.retry.Stream(ctx, yield, func(ctx context.Context, emit func(lm.Chunk) bool) (http.Header, error) {
			st.reset() // each attempt decodes afresh
			return r.streamOnce(ctx, rb, st, emit)
		})
	}
}

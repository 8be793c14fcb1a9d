// Package anthropic is an lm.LM for Anthropic's Messages API: blocking and
// streaming calls, tool use, extended thinking (surfaced as reasoning) and
// usage with prompt-cache tokens.
//
// It speaks the wire itself, decoding the event stream with internal/sse
// into small reused structs, rather than through anthropic-sdk-go: see
// docs/decisions.md for the measurement behind that choice.
package anthropic

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/godspy/dspy/internal/provider"
	"github.com/godspy/dspy/lm"
)

// DefaultBaseURL is Anthropic's API root (without /v1).
const DefaultBaseURL = "https://api.anthropic.com"

// APIVersion is the anthropic-version header sent.
const APIVersion = "2023-06-01"

// DefaultMaxTokens is sent when neither the request nor the client sets a
// limit: the Messages API requires one.
const DefaultMaxTokens = 4096

// Client calls one Anthropic model. It is safe for concurrent use.
type Client struct {
	model       string
	baseURL     string
	endpoint    string
	apiKey      string
	keyValue    []string // X-Api-Key's value, built once
	header      http.Header
	hc          *http.Client
	hdr         provider.Header // built by setHeader
	temperature *float64
	maxTokens   int
	retry       lm.RetryPolicy
	idle        time.Duration
	timeout     time.Duration
	redact      provider.Redactor
}

// Option configures a Client; the With functions of this package make them.
type Option interface{ apply(*Client) }

type optionFunc func(*Client)

func (f optionFunc) apply(c *Client) { f(c) }

// WithBaseURL sets the API root (default DefaultBaseURL); "/v1/messages" is
// appended.
func WithBaseURL(u string) Option { return optionFunc(func(c *Client) { c.baseURL = u }) }

// WithAPIKey sets the key sent as x-api-key.
func WithAPIKey(key string) Option { return optionFunc(func(c *Client) { c.apiKey = key }) }

// WithHTTPClient replaces the HTTP client.
func WithHTTPClient(hc *http.Client) Option {
	return optionFunc(func(c *Client) {
		if hc != nil {
			c.hc = hc
		}
	})
}

// WithHeader adds a header to every request (e.g. anthropic-beta).
func WithHeader(key, value string) Option {
	return optionFunc(func(c *Client) { c.header.Add(key, value) })
}

// WithTemperature sets the temperature used when a request sets none.
func WithTemperature(t float64) Option { return optionFunc(func(c *Client) { c.temperature = &t }) }

// WithMaxTokens sets the output limit used when a request sets none
// (default DefaultMaxTokens).
func WithMaxTokens(n int) Option { return optionFunc(func(c *Client) { c.maxTokens = n }) }

// WithRetry sets the retry policy; the zero RetryPolicy is the default.
func WithRetry(p lm.RetryPolicy) Option { return optionFunc(func(c *Client) { c.retry = p }) }

// DefaultIdleTimeout is the idle timeout of a stream without
// WithIdleTimeout.
const DefaultIdleTimeout = provider.DefaultIdleTimeout

// DefaultTimeout bounds a blocking call without WithTimeout.
const DefaultTimeout = provider.DefaultTimeout

// WithIdleTimeout ends a stream with lm.ErrStreamIdle (an *lm.StreamError
// after output) when the server is silent for d: no response headers for d
// after the request, or no event (pings included) for d after the previous one. Time the
// consumer spends on a chunk does not count. The default is
// DefaultIdleTimeout (60 s); a negative d waits as long as ctx allows. A
// model that thinks for minutes before its first token needs more.
func WithIdleTimeout(d time.Duration) Option {
	return optionFunc(func(c *Client) { c.idle = d })
}

// WithTimeout bounds each blocking call (Generate), its retries and their
// waits included: after d it fails with an error matching
// context.DeadlineExceeded. The default is DefaultTimeout (10 min); a
// negative d waits as long as ctx allows. Streams are bounded by
// WithIdleTimeout instead, since a healthy stream may run for long.
func WithTimeout(d time.Duration) Option {
	return optionFunc(func(c *Client) { c.timeout = d })
}

// New returns a client for model.
func New(model string, opts ...Option) *Client {
	c := &Client{model: model, baseURL: DefaultBaseURL, header: http.Header{}, maxTokens: DefaultMaxTokens}
	for _, o := range opts {
		o.apply(c)
	}
	own := c.hc == nil // calls share a header map (provider.HTTPClient)
	if own {
		c.hc = provider.HTTPClient()
	}
	c.endpoint = strings.TrimRight(c.baseURL, "/") + "/v1/messages"
	c.redact = provider.NewRedactor(c.apiKey, c.header)
	c.idle = provider.Duration(c.idle, DefaultIdleTimeout)
	c.timeout = provider.Duration(c.timeout, DefaultTimeout)
	if c.apiKey != "" {
		c.keyValue = []string{c.apiKey}
	}
	c.hdr = provider.NewHeader(own, c.setHeader)
	return c
}

// Model returns the model name requests use by default.
func (c *Client) Model() string { return c.model }

// BaseURL returns the API root the client sends its requests to; the cache
// keys on it (lm.Endpoint).
func (c *Client) BaseURL() string { return c.baseURL }

// String names the client without its API key, so that printing or
// logging it (%v, %+v, slog) cannot leak the key.
func (c *Client) String() string { return "anthropic.Client(" + c.model + ")" }

// GoString is String, for %#v.
func (c *Client) GoString() string { return c.String() }

const providerName = "anthropic"

// post sends body. The request's bytes are let go once written
// (provider.NewPost): a call waiting on its reply keeps no copy of its
// prompt as JSON; a resend encodes it again.
func (c *Client) post(ctx context.Context, body *provider.Body, stream bool) (*http.Response, http.Header, error) {
	hreq, err := provider.NewPost(ctx, c.endpoint, body)
	if err != nil {
		return nil, nil, fmt.Errorf("anthropic: %w", err)
	}
	c.hdr.Apply(hreq, stream) // one map for every call on provider.HTTPClient
	resp, err := c.hc.Do(hreq)
	if err != nil {
		return nil, nil, fmt.Errorf("anthropic: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		e := c.errorFrom(b, resp.Header)
		e.StatusCode = resp.StatusCode
		if e.Message == "" && e.Type == "" {
			e.Message = http.StatusText(resp.StatusCode)
		}
		return nil, resp.Header, e
	}
	return resp, resp.Header, nil
}

// setHeader sets a request's headers.
func (c *Client) setHeader(h http.Header, stream bool) {
	h["Content-Type"] = jsonValue
	h["Anthropic-Version"] = versionValue
	if stream {
		h["Accept"] = eventStreamValue
	}
	if c.keyValue != nil {
		h["X-Api-Key"] = c.keyValue
	}
	for k, v := range c.header {
		h[k] = v
	}
}

// Header values every request shares; never written.
var (
	jsonValue        = []string{"application/json"}
	versionValue     = []string{APIVersion}
	eventStreamValue = []string{"text/event-stream"}
)

// errorFrom reads {"type":"error","error":{"type":...,"message":...}}.
func (c *Client) errorFrom(b []byte, h http.Header) *lm.APIError {
	var env struct {
		Error *struct {
			Type    string `json:"type"`
			Message string `json:"message"`
		} `json:"error"`
	}
	e := &lm.APIError{Provider: providerName, RequestID: h.Get("Request-Id")}
	if json.Unmarshal(b, &env) == nil && env.Error != nil {
		e.Type, e.Message = env.Error.Type, env.Error.Message
	} else if s := strings.TrimSpace(c.redact.String(string(b))); s != "" { // before truncation
		e.Message = s[:min(len(s), 500)]
	}
	c.redact.APIError(e)
	return e
}

// Generate makes a blocking Messages call, retrying as the policy allows.
func (c *Client) Generate(ctx context.Context, req *lm.Request) (*lm.Response, error) {
	first, err := c.encode(req, false)
	if err != nil {
		return nil, c.redact.Error(err)
	}
	body := provider.NewBody(first, func() ([]byte, error) { return c.encode(req, false) })
	var out *lm.Response
	err = provider.Bound(ctx, providerName, c.timeout, func(ctx context.Context) error {
		return c.retry.Do(ctx, func(ctx context.Context) (http.Header, error) {
			resp, h, err := c.post(ctx, body, false)
			if err != nil {
				return h, err
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			if err != nil {
				return h, fmt.Errorf("anthropic: reading response: %w", err)
			}
			out, err = decodeMessage(b)
			return h, err
		})
	})
	if err != nil {
		return nil, c.redact.Error(err)
	}
	return out, nil
}

var errNoFinish = errors.New("stream ended before message_stop")

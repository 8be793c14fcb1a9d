// Package openai is a lean client of the chat-completions wire that OpenAI
// and every OpenAI-compatible server (Azure OpenAI, Ollama, vLLM, llama.cpp,
// OpenRouter, Groq, Together, DeepSeek, Fireworks, Gemini's compatible
// endpoint) speak, and of OpenAI's Responses API (NewResponses), which
// current OpenAI models need for reasoning summaries. Both implement lm.LM.
//
// It is written for many concurrent streams: each chunk is decoded into small
// reused structs, the default transport keeps many idle connections per
// host, and breaking out of a stream cancels its HTTP request at once.
package openai

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/godspy/dspy/internal/provider"
	"github.com/godspy/dspy/lm"
)

// Client calls one model of one chat-completions server. It is safe for
// concurrent use; create it once and share it.
type Client struct {
	model       string
	baseURL     string
	endpoint    string // full chat-completions URL
	apiKey      string
	authKey     string   // the header the key goes in
	auth        []string // its value, built once
	header      http.Header
	hc          *http.Client
	hdr         provider.Header // built by setHeader
	provider    string
	temperature *float64
	maxTokens   int
	maxField    string
	retry       lm.RetryPolicy
	idle        time.Duration
	timeout     time.Duration
	azure       bool
	apiVersion  string
	maxLine     int
	redact      provider.Redactor
}

// Option configures a Client. Options are created by the With functions of
// this package only.
type Option interface{ apply(*Client) }

type optionFunc func(*Client)

func (f optionFunc) apply(c *Client) { f(c) }

// DefaultBaseURL is OpenAI's API root.
const DefaultBaseURL = "https://api.openai.com/v1"

// WithBaseURL sets the API root, e.g. "http://localhost:11434/v1"; the client
// appends "/chat/completions". In Azure mode it is the resource endpoint or a
// full deployment URL.
func WithBaseURL(u string) Option { return optionFunc(func(c *Client) { c.baseURL = u }) }

// WithAPIKey sets the key sent as a bearer token (as "api-key" in Azure mode).
// An empty key sends no authorization header (local servers).
func WithAPIKey(key string) Option { return optionFunc(func(c *Client) { c.apiKey = key }) }

// WithHTTPClient replaces the HTTP client. The default shares one transport
// tuned for many concurrent calls to one host.
func WithHTTPClient(hc *http.Client) Option {
	return optionFunc(func(c *Client) {
		if hc != nil {
			c.hc = hc
		}
	})
}

// WithHeader adds a header to every request (e.g. OpenRouter's HTTP-Referer).
func WithHeader(key, value string) Option {
	return optionFunc(func(c *Client) { c.header.Add(key, value) })
}

// WithProvider names the provider in errors ("groq", "ollama", ...).
// The default is "openai".
func WithProvider(name string) Option { return optionFunc(func(c *Client) { c.provider = name }) }

// WithTemperature sets the temperature used when a request does not set one.
func WithTemperature(t float64) Option {
	return optionFunc(func(c *Client) { c.temperature = &t })
}

// WithMaxTokens sets the output token limit used when a request sets none.
func WithMaxTokens(n int) Option { return optionFunc(func(c *Client) { c.maxTokens = n }) }

// WithMaxTokensField sets the body field that carries the token limit:
// "max_tokens" (default, what compatible servers accept) or
// "max_completion_tokens" (what OpenAI's reasoning models require).
func WithMaxTokensField(name string) Option {
	return optionFunc(func(c *Client) { c.maxField = name })
}

// WithRetry sets the retry policy. The zero RetryPolicy is the default.
func WithRetry(p lm.RetryPolicy) Option { return optionFunc(func(c *Client) { c.retry = p }) }

// DefaultIdleTimeout is the idle timeout of a stream without
// WithIdleTimeout.
const DefaultIdleTimeout = provider.DefaultIdleTimeout

// DefaultTimeout bounds a blocking call without WithTimeout.
const DefaultTimeout = provider.DefaultTimeout

// WithIdleTimeout ends a stream with lm.ErrStreamIdle (an *lm.StreamError
// after output) when the server is silent for d: no response headers for d
// after the request, or no event for d after the previous one. Time the
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

// WithAzure switches to Azure OpenAI: the model name is the deployment, the
// base URL the resource endpoint (https://NAME.openai.azure.com), the key goes
// in the "api-key" header and apiVersion in the "api-version" query.
func WithAzure(apiVersion string) Option {
	return optionFunc(func(c *Client) { c.azure, c.apiVersion = true, apiVersion })
}

// WithMaxLineSize bounds one SSE line (default 8 MiB).
func WithMaxLineSize(n int) Option { return optionFunc(func(c *Client) { c.maxLine = n }) }

// New returns a client for model. Without options it calls OpenAI with no
// key; dspy.NewLM reads keys from the environment.
func New(model string, opts ...Option) *Client {
	c := newClient(model, opts)
	c.endpoint = c.chatURL()
	return c
}

// newClient applies opts and the defaults; the caller sets the endpoint.
func newClient(model string, opts []Option) *Client {
	c := &Client{model: model, baseURL: DefaultBaseURL, provider: "openai", header: http.Header{}}
	for _, o := range opts {
		o.apply(c)
	}
	own := c.hc == nil // calls share a header map (provider.HTTPClient)
	if own {
		c.hc = provider.HTTPClient()
	}
	if c.maxField == "" {
		c.maxField = "max_tokens"
	}
	c.redact = provider.NewRedactor(c.apiKey, c.header)
	if c.apiKey != "" {
		if c.azure {
			c.authKey, c.auth = "Api-Key", []string{c.apiKey}
		} else {
			c.authKey, c.auth = "Authorization", []string{"Bearer " + c.apiKey}
		}
	}
	c.idle = provider.Duration(c.idle, DefaultIdleTimeout)
	c.timeout = provider.Duration(c.timeout, DefaultTimeout)
	c.hdr = provider.NewHeader(own, c.setHeader)
	return c
}

// Model returns the model name requests use by default.
func (c *Client) Model() string { return c.model }

// BaseURL returns the API root the client sends its requests to; the cache
// keys on it (lm.Endpoint).
func (c *Client) BaseURL() string { return c.baseURL }

// Provider returns the provider name used in errors.
func (c *Client) Provider() string { return c.provider }

// String names the client without its API key, so that printing or
// logging it (%v, %+v, slog) cannot leak the key.
func (c *Client) String() string { return "openai.Client(" + c.provider + "/" + c.model + ")" }

// GoString is String, for %#v.
func (c *Client) GoString() string { return c.String() }

func (c *Client) chatURL() string {
	base := strings.TrimRight(c.baseURL, "/")
	if !c.azure {
		return base + "/chat/completions"
	}
	u := base
	if !strings.Contains(base, "/openai/deployments/") {
		u = base + "/openai/deployments/" + url.PathEscape(c.model)
	}
	u += "/chat/completions"
	if c.apiVersion != "" {
		u += "?api-version=" + url.QueryEscape(c.apiVersion)
	}
	return u
}

// post sends body and returns a 2xx response. A non-2xx answer is read,
// closed and returned as an *lm.APIError with the response header, so the
// caller can honour Retry-After.
func (c *Client) post(ctx context.Context, body *provider.Body, stream bool) (*http.Response, http.Header, error) {
	hreq, err := provider.NewPost(ctx, c.endpoint, body) // lets go of the sent bytes
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", c.provider, err)
	}
	c.hdr.Apply(hreq, stream) // one map for every call on provider.HTTPClient
	resp, err := c.hc.Do(hreq)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", c.provider, err)
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		return nil, resp.Header, c.statusError(resp)
	}
	return resp, resp.Header, nil
}

// setHeader sets a request's headers. The values are shared by every
// request, as WithHeader's always were: a RoundTripper may replace a
// request's header values, never write into them (http.RoundTripper:
// RoundTrip should not modify the request), and each call holds no slices
// and no copy of a key of its own while it waits.
func (c *Client) setHeader(h http.Header, stream bool) {
	h["Content-Type"] = jsonValue
	if stream {
		h["Accept"] = eventStreamValue
	} else {
		h["Accept"] = jsonValue
	}
	if c.auth != nil {
		h[c.authKey] = c.auth
	}
	for k, v := range c.header {
		h[k] = v
	}
}

// Header values every request shares (see setHeader); never written.
var (
	jsonValue        = []string{"application/json"}
	eventStreamValue = []string{"text/event-stream"}
)

// statusError builds the *lm.APIError of a non-2xx response.
func (c *Client) statusError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	// Redacted before parsing, so no truncation can cut a key in half.
	e := parseErrorBody([]byte(c.redact.String(string(b))))
	e.Provider = c.provider
	e.StatusCode = resp.StatusCode
	e.RequestID = requestID(resp.Header)
	if e.Message == "" && e.Type == "" && e.Code == "" {
		e.Message = http.StatusText(resp.StatusCode)
	}
	c.redact.APIError(e)
	return e
}

func requestID(h http.Header) string {
	if v := h.Get("X-Request-Id"); v != "" {
		return v
	}
	return h.Get("Request-Id")
}

// RefusalError reports that the model refused (OpenAI's refusal field). It
// matches lm.ErrRefusal.
type RefusalError struct {
	// Refusal is the model's explanation.
	Refusal string
}

func (e *RefusalError) Error() string { return "model refused: " + e.Refusal }

// Unwrap returns lm.ErrRefusal.
func (e *RefusalError) Unwrap() error { return lm.ErrRefusal }

// Generate makes a blocking chat-completions call, retrying as the client's
// policy allows.
func (c *Client) Generate(ctx context.Context, req *lm.Request) (*lm.Response, error) {
	body, err := c.encode(req, false)
	if err != nil {
		return nil, c.redact.Error(err)
	}
	return c.generate(ctx, provider.NewBody(body, func() ([]byte, error) { return c.encode(req, false) }), c.decodeResponse)
}

// generate posts body, retrying as the policy allows within the call
// timeout, and decodes a 2xx reply with decode. The Responses client shares
// it.
func (c *Client) generate(ctx context.Context, body *provider.Body, decode func([]byte, http.Header) (*lm.Response, error)) (*lm.Response, error) {
	var out *lm.Response
	err := provider.Bound(ctx, c.provider, c.timeout, func(ctx context.Context) error {
		return c.retry.Do(ctx, func(ctx context.Context) (http.Header, error) {
			resp, h, err := c.post(ctx, body, false)
			if err != nil {
				return h, err
			}
			defer resp.Body.Close()
			var buf []byte
			if resp.ContentLength > 0 && resp.ContentLength < 64<<20 {
				buf = make([]byte, 0, resp.ContentLength+1)
			}
			b := bytes.NewBuffer(buf)
			if _, err := b.ReadFrom(resp.Body); err != nil {
				return h, fmt.Errorf("%s: reading response: %w", c.provider, err)
			}
			out, err = decode(b.Bytes(), h)
			return h, err
		})
	})
	if err != nil {
		return nil, c.redact.Error(err)
	}
	return out, nil
}

var errNoFinish = errors.New("stream ended before a finish reason")

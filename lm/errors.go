package lm

import (
	"errors"
	"fmt"
	"strings"
)

// Conditions a caller can match with errors.Is. An *APIError matches the one
// its status and code map to.
var (
	// ErrRateLimited: the provider answered 429 (after retries, if any).
	ErrRateLimited = errors.New("lm: rate limited")
	// ErrContextWindow: the prompt does not fit the model's context window.
	ErrContextWindow = errors.New("lm: context window exceeded")
	// ErrAuth: the API key is missing, wrong or lacks permission (401/403).
	ErrAuth = errors.New("lm: authentication failed")
	// ErrBadRequest: the provider rejected the request (400/404/422).
	ErrBadRequest = errors.New("lm: bad request")
	// ErrServer: the provider failed (5xx, or an error event mid-stream).
	ErrServer = errors.New("lm: server error")
	// ErrRefusal: the model refused to answer (OpenAI's refusal field).
	ErrRefusal = errors.New("lm: model refused")
	// ErrStreamIdle: no chunk arrived within the idle timeout.
	ErrStreamIdle = errors.New("lm: stream idle timeout")
	// ErrMalformed: the provider sent bytes that do not decode.
	ErrMalformed = errors.New("lm: malformed response")
	// ErrConfig: the request cannot succeed as configured, so it was not
	// retried: the base URL does not parse, has no host or a scheme other
	// than http and https, its host does not exist (DNS "no such host"), or
	// the server's TLS certificate is not trusted, or it answers https in
	// plain HTTP. The error's text names the URL; fix the configuration.
	ErrConfig = errors.New("lm: configuration error")
)

// APIError is an error answer from a provider. Its Error text never contains
// credentials: providers build it from the status and the error body only.
type APIError struct {
	Provider   string // "openai", "anthropic", "groq", ...
	StatusCode int    // HTTP status; 0 for an error event inside a stream
	Type       string // provider error type, e.g. "invalid_request_error"
	Code       string // provider error code, e.g. "context_length_exceeded"
	Message    string // provider message
	RequestID  string // x-request-id or request-id header, when sent
}

func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString(e.Provider)
	if e.StatusCode != 0 {
		fmt.Fprintf(&b, ": HTTP %d", e.StatusCode)
	}
	if e.Code != "" {
		fmt.Fprintf(&b, " (%s)", e.Code)
	} else if e.Type != "" {
		fmt.Fprintf(&b, " (%s)", e.Type)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.RequestID != "" {
		fmt.Fprintf(&b, " [request %s]", e.RequestID)
	}
	return b.String()
}

// Is maps the error to the condition sentinels.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrContextWindow:
		return e.isContextWindow()
	case ErrRateLimited:
		return e.StatusCode == 429 || e.Code == "rate_limit_exceeded" || e.Type == "rate_limit_error"
	case ErrAuth:
		return e.StatusCode == 401 || e.StatusCode == 403
	case ErrBadRequest:
		return e.StatusCode == 400 || e.StatusCode == 404 || e.StatusCode == 422 || e.isContextWindow()
	case ErrServer:
		return e.StatusCode >= 500 || (e.StatusCode == 0 && !e.isContextWindow() && e.Type != "rate_limit_error")
	}
	return false
}

func (e *APIError) isContextWindow() bool {
	if e.Code == "context_length_exceeded" || e.Code == "string_above_max_length" {
		return true
	}
	m := strings.ToLower(e.Message)
	return (e.StatusCode == 400 || e.StatusCode == 413 || e.StatusCode == 0) &&
		(strings.Contains(m, "context length") || strings.Contains(m, "context window") ||
			strings.Contains(m, "maximum context") || strings.Contains(m, "prompt is too long") ||
			strings.Contains(m, "too many tokens"))
}

// Retryable reports whether a request that failed with this error may be
// sent again: 408, 409, 429 and 5xx.
func (e *APIError) Retryable() bool {
	s := e.StatusCode
	return s == 408 || s == 409 || s == 429 || s >= 500
}

// StreamError ends a stream that failed after some output was delivered. The
// text already received is kept in Partial, so nothing that reached the
// caller is lost.
type StreamError struct {
	Partial Response // what arrived before the failure (choice 0)
	Err     error
}

func (e *StreamError) Error() string {
	return fmt.Sprintf("stream ended after %d bytes: %v", len(e.Partial.Text()), e.Err)
}

func (e *StreamError) Unwrap() error { return e.Err }

package lm

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"syscall"
	"time"
)

// RetryPolicy says how a provider retries a failed request. The zero value is
// the default policy: two retries, backoff from 0.5 s doubling up to 8 s.
//
// A request is retried after 408, 409, 429 and 5xx answers and after
// connection errors (see Retryable), never after the caller's context ends.
// A configuration error (see ErrConfig) is returned at once, wrapped in
// ErrConfig. A stream is retried only before its first chunk is handed on.
type RetryPolicy struct {
	// MaxRetries is the number of retries after the first attempt. Zero means
	// the default (2); a negative value disables retries.
	MaxRetries int
	// BaseDelay is the first backoff (default 0.5 s); each retry doubles it.
	BaseDelay time.Duration
	// MaxDelay caps the backoff (default 8 s). A server's Retry-After is
	// honoured up to one minute regardless.
	MaxDelay time.Duration
}

// NoRetry returns a policy that never retries.
func NoRetry() RetryPolicy { return RetryPolicy{MaxRetries: -1} }

const maxRetryAfter = time.Minute

// Retries returns the number of retries the policy allows.
func (p RetryPolicy) Retries() int {
	switch {
	case p.MaxRetries < 0:
		return 0
	case p.MaxRetries == 0:
		return 2
	}
	return p.MaxRetries
}

// Backoff returns the delay before retry number n (0 for the first retry)
// when the server gave no Retry-After: BaseDelay·2ⁿ capped at MaxDelay,
// minus up to 25 % jitter so that many clients do not retry in step.
func (p RetryPolicy) Backoff(n int) time.Duration {
	base, maxd := p.BaseDelay, p.MaxDelay
	if base <= 0 {
		base = 500 * time.Millisecond
	}
	if maxd <= 0 {
		maxd = 8 * time.Second
	}
	d := base
	for i := 0; i < n && d < maxd; i++ {
		d *= 2
	}
	d = min(d, maxd)
	jitter := 1 - rand.Float64()*0.25
	return time.Duration(float64(d) * jitter)
}

// RetryAfter reads a server's requested delay from the Retry-After-Ms header,
// then Retry-After (seconds or an HTTP date, relative to now). It reports
// false when neither is present, valid, and between 0 and one minute.
func RetryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	if h == nil {
		return 0, false
	}
	if v := h.Get("Retry-After-Ms"); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil && ms >= 0 {
			d := time.Duration(ms * float64(time.Millisecond))
			if d <= maxRetryAfter {
				return d, true
			}
		}
	}
	if v := h.Get("Retry-After"); v != "" {
		if s, err := strconv.ParseFloat(v, 64); err == nil {
			d := time.Duration(s * float64(time.Second))
			if s >= 0 && d <= maxRetryAfter {
				return d, true
			}
			return 0, false
		}
		if t, err := http.ParseTime(v); err == nil {
			d := t.Sub(now)
			if d < 0 {
				d = 0
			}
			if d <= maxRetryAfter {
				return d, true
			}
		}
	}
	return 0, false
}

// Delay is the wait before retry number n, given the failed attempt's
// response header (nil when there was no response).
func (p RetryPolicy) Delay(n int, h http.Header) time.Duration {
	if d, ok := RetryAfter(h, time.Now()); ok {
		return d
	}
	return p.Backoff(n)
}

// Do calls attempt until it succeeds, fails with an error that Retryable
// rejects, the retries are spent, or ctx ends. attempt returns the header of
// a failed response (nil if none) so that Retry-After is honoured. The error
// of the last attempt is returned; if ctx ends during a wait, ctx's error
// wrapping the last attempt's is returned.
func (p RetryPolicy) Do(ctx context.Context, attempt func(ctx context.Context) (http.Header, error)) error {
	for n := 0; ; n++ {
		h, err := attempt(ctx)
		if err == nil {
			return nil
		}
		if err := p.wait(ctx, n, h, err); err != nil {
			return err
		}
	}
}

// Stream runs a streaming attempt and yields its chunks, retrying only
// while no chunk has reached yield: once one has, a failure ends the stream
// with a *StreamError holding what was received. attempt hands each chunk to
// emit and stops when emit returns false (the consumer left); it returns the
// header of a failed response (nil if none) and the error, nil when the
// stream ended well or the consumer left. Every provider's Stream uses this,
// so the rule lives in one place.
func (p RetryPolicy) Stream(ctx context.Context, yield func(Chunk, error) bool, attempt func(ctx context.Context, emit func(Chunk) bool) (http.Header, error)) {
	for n := 0; ; n++ {
		var acc Accumulator
		yielded, stopped := false, false
		h, err := attempt(ctx, func(c Chunk) bool {
			acc.Add(c)
			yielded = true
			if !yield(c, nil) {
				stopped = true
				return false
			}
			return true
		})
		switch {
		case err == nil || stopped:
			return
		case yielded:
			yield(Chunk{}, &StreamError{Partial: acc.Response(), Err: err})
			return
		}
		if err := p.wait(ctx, n, h, err); err != nil {
			yield(Chunk{}, err)
			return
		}
	}
}

// wait decides after failed attempt n: it returns the error to give up with
// (err itself when it is not retryable or the retries are spent, wrapped in
// ErrConfig when it is a configuration error; ctx's cause joined with err
// when ctx ends first), or nil after waiting out the delay.
func (p RetryPolicy) wait(ctx context.Context, n int, h http.Header, err error) error {
	if configured(err) && !errors.Is(err, ErrConfig) {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if n >= p.Retries() || !Retryable(err) || ctx.Err() != nil {
		return err
	}
	d := p.Delay(n, h)
	if tr := ContextTrace(ctx); tr != nil && tr.Retry != nil {
		tr.Retry(ctx, RetryInfo{Attempt: n + 1, Err: err, Delay: d})
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return errors.Join(context.Cause(ctx), err)
	case <-t.C:
		return nil
	}
}

// Retryable reports whether a request that failed with err may be sent again,
// because the same request can succeed later: an *APIError whose status
// allows it (408, 409, 429, 5xx), a connection reset, refused or aborted, an
// unexpected EOF, a network timeout, a temporary DNS failure, or another
// failure of the transport (*url.Error, net.Error) that is not a
// configuration error. Never retryable: the context's end (context.Canceled,
// or context.DeadlineExceeded itself), and configuration errors, which
// match ErrConfig once a RetryPolicy has seen them: a URL that does not
// parse, has no host or a scheme other than http(s), a host that does not
// exist, an untrusted TLS certificate, https to a plain HTTP server. Retryable does not see the caller's
// context: a transport timeout caused by the context's deadline looks like
// any timeout, so callers check ctx.Err() too, as RetryPolicy does.
func Retryable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || holds(err, context.DeadlineExceeded) ||
		errors.Is(err, ErrConfig) || configured(err) {
		return false
	}
	var api *APIError
	if errors.As(err, &api) {
		return api.StatusCode != 0 && api.Retryable()
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ETIMEDOUT) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne)
}

// configured reports a failure that no retry can mend, since it comes from
// the configuration: see ErrConfig.
func configured(err error) bool {
	var ue *url.Error
	if errors.As(err, &ue) {
		if ue.Op == "parse" {
			return true
		}
		// The client checks the URL before it dials: net/http reports an
		// unsupported scheme or a missing host only in text, so the URL
		// itself is checked.
		if u, perr := url.Parse(ue.URL); perr != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return true
		}
	}
	var dns *net.DNSError
	if errors.As(err, &dns) && dns.IsNotFound || errors.Is(err, http.ErrSchemeMismatch) {
		return true
	}
	var (
		cert     *tls.CertificateVerificationError
		record   tls.RecordHeaderError
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
	)
	return errors.As(err, &cert) || errors.As(err, &record) || errors.As(err, &unknown) ||
		errors.As(err, &hostname) || errors.As(err, &invalid)
}

// holds reports whether target itself (not an error matching it through an
// Is method) is in err's tree: context.DeadlineExceeded is the caller's
// deadline, while transport timeouts only match it.
func holds(err, target error) bool {
	for err != nil {
		if err == target {
			return true
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				if holds(e, target) {
					return true
				}
			}
			return false
		default:
			return false
		}
	}
	return false
}

package provider

import (
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/godspy/dspy/lm"
)

// Redactor removes credentials from the text and the errors a provider
// returns. Servers, proxies and RoundTrippers may echo request headers into
// error bodies, response headers or transport errors; every error a
// provider returns goes through Error, so no key is left in its text or in
// the text of any error reachable from it. The zero value removes nothing.
type Redactor struct {
	secrets []string
}

// minSecret is the shortest value treated as a secret: shorter ones would
// redact ordinary words.
const minSecret = 4

// NewRedactor returns a Redactor for the API key and for the values of the
// headers in h whose names say they carry credentials (Authorization,
// Cookie, or a name containing "key", "token" or "secret"), as a client's
// WithHeader may add them.
func NewRedactor(key string, h http.Header) Redactor {
	var r Redactor
	r.add(key)
	for name, vs := range h {
		n := strings.ToLower(name)
		if n != "authorization" && n != "proxy-authorization" && n != "cookie" &&
			!strings.Contains(n, "key") && !strings.Contains(n, "token") && !strings.Contains(n, "secret") {
			continue
		}
		for _, v := range vs {
			r.add(v)
			if _, cred, ok := strings.Cut(v, " "); ok { // "Bearer KEY": the key alone too
				r.add(strings.TrimSpace(cred))
			}
		}
	}
	return r
}

func (r *Redactor) add(s string) {
	if len(s) >= minSecret {
		r.secrets = append(r.secrets, s)
	}
}

// String returns s with every secret replaced by "[redacted]".
func (r Redactor) String(s string) string {
	for _, k := range r.secrets {
		if strings.Contains(s, k) {
			s = strings.ReplaceAll(s, k, "[redacted]")
		}
	}
	return s
}

func (r Redactor) holds(s string) bool {
	for _, k := range r.secrets {
		if strings.Contains(s, k) {
			return true
		}
	}
	return false
}

// APIError removes the secrets from every field of e a server wrote.
func (r Redactor) APIError(e *lm.APIError) {
	e.Message, e.Type, e.Code, e.RequestID = r.String(e.Message), r.String(e.Type), r.String(e.Code), r.String(e.RequestID)
}

// Error returns err, or, when a secret appears in its text or in the text of
// any error below it (through Unwrap() error and Unwrap() []error), a copy of
// the chain without it. Errors that hold no secret are kept as they are, so
// errors.Is and errors.As still find them (context.Canceled, syscall
// errors, lm sentinels); the error types godspy and net/http produce
// (*url.Error, *net.OpError, *net.DNSError, *os.SyscallError, *lm.APIError,
// *lm.StreamError) are copied with their fields redacted, so errors.As still
// finds those too. Any other error whose text holds a secret is replaced by
// one with the redacted text that keeps the chain below it, the original's
// own Is method and, for a net.Error, Timeout and Temporary: errors.As for
// its concrete type no longer matches, since that value holds the key.
func (r Redactor) Error(err error) error {
	if err == nil || len(r.secrets) == 0 {
		return err
	}
	out, _ := r.redact(err, 0)
	return out
}

// maxDepth bounds the walk, against a chain that loops.
const maxDepth = 64

// redact returns err and false when nothing in its tree holds a secret,
// else the redacted copy and true.
func (r Redactor) redact(err error, depth int) (error, bool) {
	if depth > maxDepth {
		return &stand{msg: r.String(err.Error())}, true
	}
	var kids []error
	many := false
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		if k := u.Unwrap(); k != nil {
			kids = []error{k}
		}
	case interface{ Unwrap() []error }:
		kids, many = u.Unwrap(), true
	}
	changed := r.holds(err.Error())
	clean := make([]error, len(kids))
	for i, k := range kids {
		var c bool
		if k != nil {
			clean[i], c = r.redact(k, depth+1)
		}
		changed = changed || c
	}
	if !changed {
		return err, false
	}
	return r.rebuild(err, clean, many), true
}

func (r Redactor) rebuild(err error, kids []error, many bool) error {
	var kid error
	if len(kids) > 0 {
		kid = kids[0]
	}
	switch e := err.(type) {
	case *url.Error:
		c := *e
		c.Op, c.URL, c.Err = r.String(e.Op), r.String(e.URL), kid
		return &c
	case *net.OpError:
		c := *e
		c.Err = kid
		if c.Err == nil {
			return &stand{msg: r.String(e.Error())}
		}
		return &c
	case *net.DNSError:
		c := *e
		c.Err, c.Name, c.Server, c.UnwrapErr = r.String(e.Err), r.String(e.Name), r.String(e.Server), kid
		return &c
	case *os.SyscallError:
		c := *e
		c.Syscall, c.Err = r.String(e.Syscall), kid
		return &c
	case *lm.APIError:
		c := *e
		r.APIError(&c)
		c.Provider = r.String(c.Provider)
		return &c
	case *lm.StreamError:
		c := *e
		c.Err = kid
		return &c
	}
	s := stand{msg: r.String(err.Error()), is: ownIs(err)}
	if many {
		return &standMany{stand: s, kids: kids}
	}
	if ne, ok := err.(net.Error); ok {
		//lint:ignore SA1019 the stand-in reports Temporary as the original does
		return &standNet{standOne: standOne{stand: s, kid: kid}, timeout: ne.Timeout(), temporary: ne.Temporary()}
	}
	return &standOne{stand: s, kid: kid}
}

// stand stands in for an error whose text held a secret.
type stand struct {
	msg string
	// is is the original's own Is method, if it has one. It is kept as a
	// func, not as the original, so no printing verb (%#v) reaches the
	// original's fields.
	is func(error) bool
}

func ownIs(err error) func(error) bool {
	if i, ok := err.(interface{ Is(error) bool }); ok {
		return i.Is
	}
	return nil
}

func (e *stand) Error() string { return e.msg }

// Is keeps the conditions the original error reported itself.
func (e *stand) Is(target error) bool { return e.is != nil && e.is(target) }

type standOne struct {
	stand
	kid error
}

func (e *standOne) Unwrap() error { return e.kid }

type standMany struct {
	stand
	kids []error
}

func (e *standMany) Unwrap() []error { return e.kids }

// standNet stands in for a net.Error, so errors.As(err, &netErr) and
// timeouts still work.
type standNet struct {
	standOne
	timeout, temporary bool
}

func (e *standNet) Timeout() bool   { return e.timeout }
func (e *standNet) Temporary() bool { return e.temporary }

// Yield returns yield with every error passed to it redacted: a provider's
// Stream hands its consumer's yield through it.
func (r Redactor) Yield(yield func(lm.Chunk, error) bool) func(lm.Chunk, error) bool {
	if len(r.secrets) == 0 {
		return yield
	}
	return func(ch lm.Chunk, err error) bool {
		if err != nil {
			err = r.Error(err)
		}
		return yield(ch, err)
	}
}

package provider

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptrace"
	"sync"
)

// Body is the JSON body of one call. The bytes encoded up front go to the
// first send and are not kept after it: a resend (a retry of the policy, or
// net/http's rewind after a dead keep-alive connection) encodes the request
// again. A call waiting on a slow provider then holds its lm.Request, which
// its caller holds anyway, but not a second copy of it as JSON: at 10,000
// calls in flight that is 10,000 bodies, and a long prompt's body is large.
type Body struct {
	mu     sync.Mutex
	first  []byte // nil once taken
	encode func() ([]byte, error)
}

// NewBody returns the body whose first send is first and whose resends are
// encode's.
func NewBody(first []byte, encode func() ([]byte, error)) *Body {
	return &Body{first: first, encode: encode}
}

// Take returns the bytes to send: the first ones once, then fresh ones.
func (b *Body) Take() ([]byte, error) {
	b.mu.Lock()
	first := b.first
	b.first = nil
	b.mu.Unlock()
	if first != nil {
		return first, nil
	}
	return b.encode()
}

// NewPost returns a POST of body to url. The request lives until the
// response; its bytes need not: the reader lets go of them once they are
// written (an httptrace hook). It stays a *bytes.Reader, which net/http
// knows is in memory, so the headers and the body still go out in one
// write. GetBody takes the body again.
func NewPost(ctx context.Context, url string, body *Body) (*http.Request, error) {
	b, err := body.Take()
	if err != nil {
		return nil, err
	}
	br := bytes.NewReader(b)
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { br.Reset(nil) }})
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, url, nil)
	if err != nil {
		return nil, err
	}
	// An empty Host sends URL.Host, which NewRequest copied it from; set,
	// it makes http.Client.Do keep a copy of the URL for the cookie jar
	// for as long as the call waits (144 bytes per call in flight).
	hreq.Host = ""
	hreq.Body, hreq.ContentLength = io.NopCloser(br), int64(len(b))
	hreq.GetBody = func() (io.ReadCloser, error) {
		b, err := body.Take()
		if err != nil {
			return nil, err
		}
		return io.NopCloser(bytes.NewReader(b)), nil
	}
	return hreq, nil
}

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

// Header is a provider client's request headers, for its blocking and its
// streamed calls. On HTTPClient (own) they are built once and every
// request carries the same map (see HTTPClient); on a caller's client
// each request gets a map of its own, set by set.
type Header struct {
	shared [2]http.Header // [0] blocking, [1] streamed; nil unless own
	set    func(h http.Header, stream bool)
}

// NewHeader returns the headers set writes, shared by every call when own.
func NewHeader(own bool, set func(h http.Header, stream bool)) Header {
	hd := Header{set: set}
	if own {
		for i := range hd.shared {
			hd.shared[i] = http.Header{}
			set(hd.shared[i], i == 1)
		}
	}
	return hd
}

// Shared reports whether the calls share one header map.
func (hd Header) Shared() bool { return hd.shared[0] != nil }

// Apply gives hreq its headers.
func (hd Header) Apply(hreq *http.Request, stream bool) {
	i := 0
	if stream {
		i = 1
	}
	if h := hd.shared[i]; h != nil {
		hreq.Header = h
		return
	}
	hd.set(hreq.Header, stream)
}

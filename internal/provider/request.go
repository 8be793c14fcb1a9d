package provider

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"
)

// Encode marshals the wire request w and merges extra (lm.Request.Extra)
// into it: extra fields win over the ones w sets, except the keys in
// reserved, which the client must keep ("stream", ...). name prefixes the
// errors.
func Encode(name string, w any, extra map[string]any, reserved ...string) ([]byte, error) {
	b, err := json.Marshal(w)
	if err != nil {
		return nil, fmt.Errorf("%s: encoding request: %w", name, err)
	}
	if len(extra) == 0 {
		return b, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: encoding request: %w", name, err)
	}
	for k, v := range extra {
		if slices.Contains(reserved, k) {
			continue
		}
		raw, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("%s: encoding extra field %q: %w", name, k, err)
		}
		m[k] = raw
	}
	return json.Marshal(m)
}

// HTTPClient is the client every provider uses without WithHTTPClient, so
// they share connections. Its transport keeps up to 1024 idle connections
// per host and does not cap connections per host: http.DefaultTransport
// keeps only 2 idle per host, so hundreds of concurrent streams would churn
// connections.
//
// Over TLS it negotiates HTTP/2 (a clone of http.DefaultTransport keeps
// ForceAttemptHTTP2 and a nil TLSNextProto; h2_test.go fails otherwise), and
// when every connection is at the server's MAX_CONCURRENT_STREAMS it dials
// another instead of queueing (HTTP2Config.StrictMaxConcurrentRequests is
// false). net/http does not coalesce those dials: a burst that finds no free
// stream dials once per request. So https requests go through h2Pool, which
// dials one connection per MAX_CONCURRENT_STREAMS waiting requests and hands
// hosts that negotiate HTTP/1.1 back to the uncapped transport.
//
// The calls of a provider client on HTTPClient share one request header
// map, built when the provider client is made: net/http's Client (without
// a cookie jar, as this one is), its Transport and h2Pool only read a
// request's header, so a call holds no map of its own (~400 bytes; 4 MB at
// 10,000 calls in flight) while it waits. A caller's client
// (WithHTTPClient) gets a map per call: its RoundTripper may set a header
// on the request it is given (against http.RoundTripper's contract, but
// common), which on a shared map would be a concurrent map write.
var HTTPClient = sync.OnceValue(func() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 0
	t.MaxIdleConnsPerHost = 1024
	t.MaxConnsPerHost = 0
	t.IdleConnTimeout = 90 * time.Second
	return &http.Client{Transport: newH2Pool(t)}
})

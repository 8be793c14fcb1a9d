package anthropic

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/godspy/dspy/lm"
)

// headerServer answers blocking and streamed calls and sends each
// request's headers (those the client sets) on got.
func headerServer(t *testing.T) (*httptest.Server, chan http.Header) {
	got := make(chan http.Header, 64)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		h := http.Header{}
		for _, k := range []string{"Content-Type", "Accept", "X-Api-Key", "Anthropic-Version", "X-Extra", "X-Trace"} {
			if v := r.Header.Values(k); v != nil {
				h[k] = v
			}
		}
		got <- h
		if r.Header.Get("Accept") == "text/event-stream" {
			w.Header().Set("Content-Type", "text/event-stream")
			io.WriteString(w, holdHead+holdTail)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, holdMessage)
	}))
	t.Cleanup(srv.Close)
	return srv, got
}

func call(ctx context.Context, c *Client, stream bool) error {
	req := &lm.Request{Messages: []lm.Message{{Role: lm.RoleUser, Content: "hi"}}}
	if !stream {
		_, err := c.Generate(ctx, req)
		return err
	}
	for _, err := range c.Stream(ctx, req) {
		if err != nil {
			return err
		}
	}
	return nil
}

// The headers on the wire are the same whether the calls share the
// client's header map (godspy's own HTTP client) or each has its own (a
// caller's client), and only godspy's own client shares one.
func TestRequestHeaders(t *testing.T) {
	srv, got := headerServer(t)
	for _, own := range []bool{true, false} {
		for _, stream := range []bool{false, true} {
			t.Run(fmt.Sprintf("own=%v/stream=%v", own, stream), func(t *testing.T) {
				opts := []Option{WithBaseURL(srv.URL), WithAPIKey("sk-ant-test"), WithHeader("X-Extra", "e")}
				if !own {
					opts = append(opts, WithHTTPClient(&http.Client{}))
				}
				c := New("claude-x", opts...)
				if shared := c.shared[streamIndex(stream)] != nil; shared != own {
					t.Errorf("calls share a header map: %v, want %v", shared, own)
				}
				if err := call(context.Background(), c, stream); err != nil {
					t.Fatal(err)
				}
				want := http.Header{"Content-Type": {"application/json"}, "Anthropic-Version": {APIVersion}, "X-Api-Key": {"sk-ant-test"}, "X-Extra": {"e"}}
				if stream {
					want["Accept"] = []string{"text/event-stream"}
				}
				if diff := cmp.Diff(want, <-got); diff != "" {
					t.Errorf("headers: -want +got\n%s", diff)
				}
			})
		}
	}
}

// A caller's RoundTripper may set a header on the request it is given:
// concurrent calls must not share the map it writes into (under -race a
// shared map fails here).
func TestCallerTransportSetsHeader(t *testing.T) {
	srv, got := headerServer(t)
	base := http.DefaultTransport
	hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		r.Header.Set("X-Trace", "t")
		return base.RoundTrip(r)
	})}
	c := New("claude-x", WithBaseURL(srv.URL), WithAPIKey("sk-ant-test"), WithHTTPClient(hc))
	const n = 16
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() { errs <- call(context.Background(), c, i%2 == 1) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for range n {
		if h := <-got; h.Get("X-Trace") != "t" || h.Get("X-Api-Key") != "sk-ant-test" {
			t.Errorf("headers %v, want X-Trace and X-Api-Key", h)
		}
	}
}

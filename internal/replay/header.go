package replay

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

// HeaderTests checks the headers a provider's calls send, blocking and
// streamed, on godspy's own HTTP client (whose calls share one header
// map) and on a caller's (a map per call): the same on the wire either
// way. Then that a caller's RoundTripper may set a header on the request
// it is given while calls run at once: a map shared between those calls
// fails here under -race.
//
// newLM returns the provider's client for the API root base over hc (nil:
// its default client); reply is its blocking reply's JSON body; want is
// what a call sends of the headers it names. Streamed calls are told from
// blocking ones by their Accept header, text/event-stream.
func HeaderTests(t *testing.T, w Wire, reply string, newLM func(base string, hc *http.Client) lm.LM, want func(stream bool) http.Header) {
	const traceKey = "X-Trace"
	got := make(chan http.Header, 64)
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		stream := r.Header.Get("Accept") == "text/event-stream"
		h := http.Header{}
		for k := range want(stream) {
			if v := r.Header.Values(k); v != nil {
				h[k] = v
			}
		}
		if v := r.Header.Values(traceKey); v != nil {
			h[traceKey] = v
		}
		got <- h
		if stream {
			rw.Header().Set("Content-Type", "text/event-stream")
			io.WriteString(rw, w.Head+w.Text("ok")+w.End)
			return
		}
		rw.Header().Set("Content-Type", "application/json")
		io.WriteString(rw, reply)
	}))
	defer srv.Close()

	for _, own := range []bool{true, false} {
		for _, stream := range []bool{false, true} {
			t.Run(fmt.Sprintf("own=%v/stream=%v", own, stream), func(t *testing.T) {
				var hc *http.Client
				if !own {
					hc = &http.Client{}
				}
				if err := call(context.Background(), newLM(srv.URL, hc), stream); err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(want(stream), <-got); diff != "" {
					t.Errorf("headers: -want +got\n%s", diff)
				}
			})
		}
	}

	t.Run("caller's RoundTripper sets a header", func(t *testing.T) {
		base := http.DefaultTransport
		m := newLM(srv.URL, &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			r.Header.Set(traceKey, "t")
			return base.RoundTrip(r)
		})})
		const n = 16
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := range n {
			wg.Go(func() { errs <- call(context.Background(), m, i%2 == 1) })
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		for i := range n {
			h := <-got
			w := want(h.Get("Accept") == "text/event-stream").Clone()
			w[traceKey] = []string{"t"}
			if diff := cmp.Diff(w, h); diff != "" {
				t.Errorf("call %d: headers: -want +got\n%s", i, diff)
			}
		}
	})
}

// call makes one blocking or streamed call and reports its error.
func call(ctx context.Context, m lm.LM, stream bool) error {
	req := &lm.Request{Messages: []lm.Message{{Role: lm.RoleUser, Content: "hi"}}}
	if !stream {
		_, err := m.Generate(ctx, req)
		return err
	}
	for _, err := range m.Stream(ctx, req) {
		if err != nil {
			return err
		}
	}
	return nil
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

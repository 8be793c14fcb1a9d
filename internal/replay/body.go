package replay

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"weak"

	"github.com/google/go-cmp/cmp"

	"github.com/godspy/dspy/internal/provider"
	"github.com/godspy/dspy/lm"
)

// Released waits, collecting garbage, up to a second until p's object is
// gone, and reports whether it went.
func Released[T any](p weak.Pointer[T]) bool {
	for range 100 {
		runtime.GC()
		if p.Value() == nil {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return false
}

// NotKeptTest checks that a call waiting on its reply does not keep the
// JSON body it has sent: at 10,000 calls in flight that would be 10,000
// bodies. The first send's bytes, first, are put in an allocation of
// their own, watched by a weak pointer, and must be collectable while the
// server holds the request. call makes the call with body (on a goroutine
// of this test, bounded by ctx) and checks its reply; resend encodes the
// body again; held receives the body the server got once it holds the
// request; closing release lets the server answer.
func NotKeptTest(t *testing.T, first []byte, resend func() ([]byte, error), held <-chan string, release chan<- struct{}, call func(ctx context.Context, body *provider.Body) error) {
	t.Helper()
	arr := new([4096]byte)
	if len(first) > len(arr) {
		t.Fatalf("the body is %d bytes, more than the test's %d", len(first), len(arr))
	}
	n := copy(arr[:], first)
	wp := weak.Make(arr)
	body := provider.NewBody(arr[:n], resend)
	arr = nil

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- call(ctx, body) }()
	select {
	case got := <-held:
		if diff := cmp.Diff(string(first), got); diff != "" {
			t.Errorf("body the server got (-want +got):\n%s", diff)
		}
	case err := <-done:
		t.Fatalf("the call ended before the server held it: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("the server did not get the request within 10s")
	}
	if !Released(wp) {
		t.Error("the sent body is still reachable while the call waits for its reply")
	}
	close(release)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("call: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the call did not end within 10s of the release")
	}
}

// countConn counts the writes on a connection.
type countConn struct {
	net.Conn
	writes *atomic.Int64
}

func (c countConn) Write(p []byte) (int, error) { c.writes.Add(1); return c.Conn.Write(p) }

// OneWriteTest checks that a blocking call's request goes out in one
// write, headers and body together: a body net/http does not know to be
// in memory makes it flush the headers first, a packet more per call (Go
// issue 22088). newLM returns the provider's client for the server at
// url over hc; reply is its blocking reply's JSON body.
func OneWriteTest(t *testing.T, reply string, newLM func(url string, hc *http.Client) lm.LM) {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, reply)
	}))
	defer srv.Close()
	var writes atomic.Int64
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		return countConn{c, &writes}, err
	}}
	defer tr.CloseIdleConnections()
	m := newLM(srv.URL, &http.Client{Transport: tr})
	if _, err := m.Generate(context.Background(), &lm.Request{Messages: []lm.Message{{Role: lm.RoleUser, Content: "hello"}}}); err != nil {
		t.Fatal(err)
	}
	if n := writes.Load(); n != 1 {
		t.Errorf("the request took %d writes, want 1", n)
	}
}

// ResendTest checks that a resend, by net/http's GetBody (a dead
// keep-alive connection) or by a retry of the policy, sends the same bytes
// as the first send, want, though they were not kept. The first attempt
// is answered with fail (a status the policy retries), the second with
// reply, whose text is "hi". newLM returns the provider's client over hc,
// retrying once with a short delay.
func ResendTest(t *testing.T, req *lm.Request, want string, fail, reply Answer, newLM func(hc *http.Client) lm.LM) {
	t.Helper()
	var bodies, rewinds []string
	record := func(next Answer) Answer {
		return func(r *http.Request) (*http.Response, error) {
			b, _ := io.ReadAll(r.Body)
			r.Body.Close()
			bodies = append(bodies, string(b))
			rb, err := r.GetBody()
			if err != nil {
				return nil, err
			}
			b, _ = io.ReadAll(rb)
			rewinds = append(rewinds, string(b))
			return next(r)
		}
	}
	rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if len(bodies) == 0 {
			return record(fail)(r)
		}
		return record(reply)(r)
	})
	resp, err := newLM(&http.Client{Transport: rt}).Generate(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Text() != "hi" {
		t.Errorf("reply %q, want hi", resp.Text())
	}
	if diff := cmp.Diff([]string{want, want}, bodies); diff != "" {
		t.Errorf("bodies sent, first try and retry (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{want, want}, rewinds); diff != "" {
		t.Errorf("bodies of GetBody (-want +got):\n%s", diff)
	}
	if strings.TrimSpace(want) == "" {
		t.Error("want is empty")
	}
}

package openai

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

// holdServer answers chat completions, holding each request, once its body
// is read (and, for a stream, once the first content chunk is sent), until
// release is closed.
func holdServer(t *testing.T) (srv *httptest.Server, held <-chan string, release chan struct{}) {
	t.Helper()
	h := make(chan string, 4)
	release = make(chan struct{})
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		stream := strings.Contains(string(b), `"stream":true`)
		if stream {
			w.Header().Set("Content-Type", "text/event-stream")
			io.WriteString(w, `data: {"choices":[{"index":0,"delta":{"content":"hi"}}]}`+"\n\n")
			w.(http.Flusher).Flush()
		}
		h <- string(b)
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		if stream {
			io.WriteString(w, `data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`+"\n\ndata: [DONE]\n\n")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}]}`)
	}))
	return srv, h, release
}

// released waits, collecting garbage, until p's object is gone.
func released[T any](p weak.Pointer[T]) bool {
	for range 100 {
		runtime.GC()
		if p.Value() == nil {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return false
}

// A call waiting on its provider does not keep the JSON body it has sent:
// at 10,000 calls in flight that is 10,000 bodies. The bytes of the first
// send must be collectable while the call waits, blocking or streaming.
func TestBodyNotKeptAfterSend(t *testing.T) {
	for _, stream := range []bool{false, true} {
		t.Run(map[bool]string{false: "blocking", true: "stream"}[stream], func(t *testing.T) {
			srv, held, release := holdServer(t)
			defer srv.Close()
			c := New("m", WithBaseURL(srv.URL+"/v1"), WithAPIKey("k"), WithHTTPClient(srv.Client()))
			req := &lm.Request{Messages: []lm.Message{{Role: lm.RoleUser, Content: "hello"}}}
			first, err := c.encode(req, stream)
			if err != nil {
				t.Fatal(err)
			}
			// The body in an allocation of its own, watched by a weak
			// pointer.
			arr := new([1024]byte)
			n := copy(arr[:], first)
			wp := weak.Make(arr)
			body := provider.NewBody(arr[:n], func() ([]byte, error) { return c.encode(req, stream) })
			arr = nil

			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			done := make(chan error, 1)
			go func() {
				if !stream {
					resp, err := c.generate(ctx, body, c.decodeResponse)
					if err == nil && resp.Text() != "hi" {
						err = io.ErrUnexpectedEOF
					}
					done <- err
					return
				}
				var got []lm.Chunk
				_, err := c.streamOnce(ctx, body, &streamState{}, func(ch lm.Chunk) bool { got = append(got, ch); return true })
				if err == nil && (len(got) == 0 || got[0].Text != "hi") {
					err = io.ErrUnexpectedEOF
				}
				done <- err
			}()
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
			if !released(wp) {
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
			srv.Client().CloseIdleConnections()
		})
	}
}

// A resend, by net/http's GetBody (a dead keep-alive connection) or by a
// retry of the policy, sends the same bytes as the first send, though they
// were not kept.
func TestBodyResend(t *testing.T) {
	var bodies []string
	var rewinds []string
	rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		b, _ := io.ReadAll(r.Body)
		r.Body.Close()
		bodies = append(bodies, string(b))
		rb, err := r.GetBody()
		if err != nil {
			return nil, err
		}
		b, _ = io.ReadAll(rb)
		rewinds = append(rewinds, string(b))
		status, text := 200, `{"choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}]}`
		if len(bodies) == 1 {
			status, text = 500, `{"error":{"message":"try again","type":"server_error"}}`
		}
		return &http.Response{StatusCode: status, Header: http.Header{"Content-Type": {"application/json"}},
			Body: io.NopCloser(strings.NewReader(text)), ContentLength: int64(len(text)), Request: r}, nil
	})
	c := New("m", WithBaseURL("http://example.invalid/v1"), WithAPIKey("k"), WithHTTPClient(&http.Client{Transport: rt}),
		WithRetry(lm.RetryPolicy{BaseDelay: time.Millisecond}))
	req := &lm.Request{Messages: []lm.Message{{Role: lm.RoleUser, Content: "hello"}}}
	want, err := c.encode(req, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Generate(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	w := string(want)
	if diff := cmp.Diff([]string{w, w}, bodies); diff != "" {
		t.Errorf("bodies sent, first try and retry (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{w, w}, rewinds); diff != "" {
		t.Errorf("bodies of GetBody (-want +got):\n%s", diff)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// countConn counts the writes on a connection.
type countConn struct {
	net.Conn
	writes *atomic.Int64
}

func (c countConn) Write(p []byte) (int, error) { c.writes.Add(1); return c.Conn.Write(p) }

// A request goes out in one write, headers and body together: a body
// net/http does not know to be in memory would make it flush the headers
// first, a packet more per call (Go issue 22088).
func TestRequestOneWrite(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}]}`)
	}))
	defer srv.Close()
	var writes atomic.Int64
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		return countConn{c, &writes}, err
	}}
	defer tr.CloseIdleConnections()
	c := New("m", WithBaseURL(srv.URL+"/v1"), WithAPIKey("k"), WithHTTPClient(&http.Client{Transport: tr}))
	if _, err := c.Generate(context.Background(), &lm.Request{Messages: []lm.Message{{Role: lm.RoleUser, Content: "hello"}}}); err != nil {
		t.Fatal(err)
	}
	if n := writes.Load(); n != 1 {
		t.Errorf("the request took %d writes, want 1", n)
	}
}

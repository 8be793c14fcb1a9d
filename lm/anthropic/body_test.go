package anthropic

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

const (
	holdHead = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"model\":\"claude-x\",\"usage\":{\"input_tokens\":5,\"output_tokens\":1}}}\n\n" +
		"event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n" +
		"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"hi\"}}\n\n"
	holdTail = "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n" +
		"event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":2}}\n\n" +
		"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"
	holdMessage = `{"id":"msg_1","type":"message","role":"assistant","model":"claude-x","content":[{"type":"text","text":"hi"}],"stop_reason":"end_turn","usage":{"input_tokens":5,"output_tokens":1}}`
)

// holdServer answers Messages calls, holding each request, once its body is
// read (and, for a stream, once the first text delta is sent), until
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
			io.WriteString(w, holdHead)
			w.(http.Flusher).Flush()
		}
		h <- string(b)
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		if stream {
			io.WriteString(w, holdTail)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, holdMessage)
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

// A call waiting on its reply does not keep the JSON body it has sent
// (before, the request's bytes.Reader held it until the response): the
// bytes of the first send must be collectable while the call waits,
// blocking or streaming.
func TestBodyNotKeptAfterSend(t *testing.T) {
	for _, stream := range []bool{false, true} {
		t.Run(map[bool]string{false: "blocking", true: "stream"}[stream], func(t *testing.T) {
			srv, held, release := holdServer(t)
			defer srv.Close()
			c := New("m", WithBaseURL(srv.URL), WithAPIKey("k"), WithHTTPClient(srv.Client()))
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
					resp, _, err := c.post(ctx, body, false)
					if err != nil {
						done <- err
						return
					}
					defer resp.Body.Close()
					b, err := io.ReadAll(resp.Body)
					if err == nil {
						var m *lm.Response
						if m, err = decodeMessage(b); err == nil && m.Text() != "hi" {
							err = io.ErrUnexpectedEOF
						}
					}
					done <- err
					return
				}
				var got []lm.Chunk
				_, err := c.streamOnce(ctx, body, func(ch lm.Chunk) bool { got = append(got, ch); return true })
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

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// A resend, by net/http's GetBody (a dead keep-alive connection) or by a
// retry of the policy, sends the same bytes as the first send, though they
// were not kept.
func TestBodyResend(t *testing.T) {
	var bodies, rewinds []string
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
		status, text := 200, holdMessage
		if len(bodies) == 1 {
			status, text = 529, `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`
		}
		return &http.Response{StatusCode: status, Header: http.Header{"Content-Type": {"application/json"}},
			Body: io.NopCloser(strings.NewReader(text)), ContentLength: int64(len(text)), Request: r}, nil
	})
	c := New("m", WithBaseURL("http://example.invalid"), WithAPIKey("k"), WithHTTPClient(&http.Client{Transport: rt}),
		WithRetry(lm.RetryPolicy{BaseDelay: time.Millisecond}))
	req := &lm.Request{Messages: []lm.Message{{Role: lm.RoleUser, Content: "hello"}}}
	want, err := c.encode(req, false)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Generate(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Text() != "hi" {
		t.Errorf("reply %q, want hi", resp.Text())
	}
	w := string(want)
	if diff := cmp.Diff([]string{w, w}, bodies); diff != "" {
		t.Errorf("bodies sent, first try and retry (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{w, w}, rewinds); diff != "" {
		t.Errorf("bodies of GetBody (-want +got):\n%s", diff)
	}
}

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
		io.WriteString(w, holdMessage)
	}))
	defer srv.Close()
	var writes atomic.Int64
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		return countConn{c, &writes}, err
	}}
	defer tr.CloseIdleConnections()
	c := New("m", WithBaseURL(srv.URL), WithAPIKey("k"), WithHTTPClient(&http.Client{Transport: tr}))
	if _, err := c.Generate(context.Background(), &lm.Request{Messages: []lm.Message{{Role: lm.RoleUser, Content: "hello"}}}); err != nil {
		t.Fatal(err)
	}
	if n := writes.Load(); n != 1 {
		t.Errorf("the request took %d writes, want 1", n)
	}
}

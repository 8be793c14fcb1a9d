package openai

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/godspy/dspy/internal/provider"
	"github.com/godspy/dspy/internal/replay"
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
			replay.NotKeptTest(t, first, func() ([]byte, error) { return c.encode(req, stream) }, held, release, func(ctx context.Context, body *provider.Body) error {
				if !stream {
					resp, err := c.generate(ctx, body, c.decodeResponse)
					if err == nil && resp.Text() != "hi" {
						err = io.ErrUnexpectedEOF
					}
					return err
				}
				var got []lm.Chunk
				_, err := c.streamOnce(ctx, body, &streamState{}, func(ch lm.Chunk) bool { got = append(got, ch); return true })
				if err == nil && (len(got) == 0 || got[0].Text != "hi") {
					err = io.ErrUnexpectedEOF
				}
				return err
			})
			srv.Client().CloseIdleConnections()
		})
	}
}

const okReply = `{"choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}]}`

func TestBodyResend(t *testing.T) {
	req := &lm.Request{Messages: []lm.Message{{Role: lm.RoleUser, Content: "hello"}}}
	want, err := New("m").encode(req, false)
	if err != nil {
		t.Fatal(err)
	}
	replay.ResendTest(t, req, string(want),
		replay.Status(500, http.Header{"Content-Type": {"application/json"}}, `{"error":{"message":"try again","type":"server_error"}}`),
		replay.Status(200, http.Header{"Content-Type": {"application/json"}}, okReply),
		func(hc *http.Client) lm.LM {
			return New("m", WithBaseURL("http://example.invalid/v1"), WithAPIKey("k"), WithHTTPClient(hc), WithRetry(lm.RetryPolicy{BaseDelay: time.Millisecond}))
		})
}

func TestRequestOneWrite(t *testing.T) {
	replay.OneWriteTest(t, okReply, func(url string, hc *http.Client) lm.LM {
		return New("m", WithBaseURL(url+"/v1"), WithAPIKey("k"), WithHTTPClient(hc))
	})
}

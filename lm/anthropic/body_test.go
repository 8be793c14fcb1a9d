package anthropic

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
			replay.NotKeptTest(t, first, func() ([]byte, error) { return c.encode(req, stream) }, held, release, func(ctx context.Context, body *provider.Body) error {
				if !stream {
					resp, _, err := c.post(ctx, body, false)
					if err != nil {
						return err
					}
					defer resp.Body.Close()
					b, err := io.ReadAll(resp.Body)
					if err != nil {
						return err
					}
					m, err := decodeMessage(b)
					if err == nil && m.Text() != "hi" {
						err = io.ErrUnexpectedEOF
					}
					return err
				}
				var got []lm.Chunk
				_, err := c.streamOnce(ctx, body, func(ch lm.Chunk) bool { got = append(got, ch); return true })
				if err == nil && (len(got) == 0 || got[0].Text != "hi") {
					err = io.ErrUnexpectedEOF
				}
				return err
			})
			srv.Client().CloseIdleConnections()
		})
	}
}

func TestBodyResend(t *testing.T) {
	req := &lm.Request{Messages: []lm.Message{{Role: lm.RoleUser, Content: "hello"}}}
	want, err := New("m").encode(req, false)
	if err != nil {
		t.Fatal(err)
	}
	replay.ResendTest(t, req, string(want),
		replay.Status(529, http.Header{"Content-Type": {"application/json"}}, `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`),
		replay.Status(200, http.Header{"Content-Type": {"application/json"}}, holdMessage),
		func(hc *http.Client) lm.LM {
			return New("m", WithBaseURL("http://example.invalid"), WithAPIKey("k"), WithHTTPClient(hc), WithRetry(lm.RetryPolicy{BaseDelay: time.Millisecond}))
		})
}

func TestRequestOneWrite(t *testing.T) {
	replay.OneWriteTest(t, holdMessage, func(url string, hc *http.Client) lm.LM {
		return New("m", WithBaseURL(url), WithAPIKey("k"), WithHTTPClient(hc))
	})
}

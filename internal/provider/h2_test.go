package provider_test

// These tests run the providers' default HTTP client (provider.HTTPClient,
// what lm/openai and lm/anthropic use without WithHTTPClient) against a
// TLS server with HTTP/2 enabled, as real providers are.
//
// The default client cannot be handed a root CA: its transport is private
// to this package and users reach it only through the providers. A user
// who must trust a private CA with it does what they would do for any Go
// program on the system roots: SSL_CERT_FILE. These tests do the same
// (trustServer), so the client under test is the default one, unmodified.
// Go reads the system roots once per process, at the first certificate
// verification, so the variable is set before the first TLS call of this
// test binary and every server uses httptest's one certificate.

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/godspy/dspy/internal/provider"
	"github.com/godspy/dspy/lm"
	"github.com/godspy/dspy/lm/anthropic"
	"github.com/godspy/dspy/lm/openai"
)

var trustOnce sync.Once

// trustServer makes srv's certificate a system root for this process.
func trustServer(t *testing.T, srv *httptest.Server) {
	trustOnce.Do(func() {
		dir, err := os.MkdirTemp("", "godspy-h2-test")
		if err != nil {
			t.Fatal(err)
		}
		f := filepath.Join(dir, "ca.pem")
		b := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
		if err := os.WriteFile(f, b, 0o600); err != nil {
			t.Fatal(err)
		}
		os.Setenv("SSL_CERT_FILE", f) // read once, at the first verification
	})
}

// h2Server is a TLS server with HTTP/2 enabled (Go's server defaults:
// MAX_CONCURRENT_STREAMS 250 per connection) that counts the TCP
// connections it accepts.
type h2Server struct {
	*httptest.Server
	conns atomic.Int64
}

func newH2Server(t *testing.T, h http.HandlerFunc) *h2Server {
	s := &h2Server{Server: httptest.NewUnstartedServer(h)}
	s.EnableHTTP2 = true
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	s.StartTLS()
	trustServer(t, s.Server)
	t.Cleanup(func() {
		provider.HTTPClient().CloseIdleConnections()
		s.Close()
	})
	return s
}

const (
	openaiReply   = `{"id":"c1","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}]}`
	openaiChunk   = "data: {\"id\":\"c1\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"}}]}\n\n"
	openaiEnd     = "data: {\"id\":\"c1\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n"
	anthropicMsg  = `{"id":"msg_1","type":"message","role":"assistant","model":"m","content":[{"type":"text","text":"hi"}],"stop_reason":"end_turn","usage":{"input_tokens":1,"output_tokens":1}}`
	anthropicSSE  = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"model\":\"m\",\"usage\":{\"input_tokens\":1,\"output_tokens\":1}}}\n\n" + "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n" + "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"hi\"}}\n\n"
	anthropicEnd  = "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\nevent: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":1}}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"
	sseMediaType  = "text/event-stream"
	jsonMediaType = "application/json"
)

// isStream reports whether the request body asks for a stream.
func isStream(r *http.Request) bool {
	var body struct {
		Stream bool `json:"stream"`
	}
	b, _ := io.ReadAll(r.Body)
	json.Unmarshal(b, &body)
	return body.Stream
}

// TestDefaultClientNegotiatesHTTP2 fails if a change to the default
// transport turns HTTP/2 off (a TLSClientConfig without ForceAttemptHTTP2,
// a non-nil TLSNextProto, a custom DialTLS...).
func TestDefaultClientNegotiatesHTTP2(t *testing.T) {
	var proto atomic.Value
	srv := newH2Server(t, func(w http.ResponseWriter, r *http.Request) {
		proto.Store(r.Proto)
		anth := r.URL.Path == "/v1/messages"
		switch stream := isStream(r); {
		case anth && stream:
			w.Header().Set("Content-Type", sseMediaType)
			io.WriteString(w, anthropicSSE+anthropicEnd)
		case anth:
			w.Header().Set("Content-Type", jsonMediaType)
			io.WriteString(w, anthropicMsg)
		case stream:
			w.Header().Set("Content-Type", sseMediaType)
			io.WriteString(w, openaiChunk+openaiEnd)
		default:
			w.Header().Set("Content-Type", jsonMediaType)
			io.WriteString(w, openaiReply)
		}
	})
	oa := openai.New("m", openai.WithBaseURL(srv.URL+"/v1"), openai.WithRetry(lm.NoRetry()))
	an := anthropic.New("m", anthropic.WithBaseURL(srv.URL), anthropic.WithRetry(lm.NoRetry()))
	req := &lm.Request{Messages: []lm.Message{{Role: lm.RoleUser, Content: "hello"}}}
	tests := []struct {
		name string
		call func() (*lm.Response, error)
	}{
		{"openai blocking", func() (*lm.Response, error) { return oa.Generate(t.Context(), req) }},
		{"openai stream", func() (*lm.Response, error) { return lm.Collect(oa.Stream(t.Context(), req)) }},
		{"anthropic blocking", func() (*lm.Response, error) { return an.Generate(t.Context(), req) }},
		{"anthropic stream", func() (*lm.Response, error) { return lm.Collect(an.Stream(t.Context(), req)) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			proto.Store("")
			resp, err := tt.call()
			if err != nil {
				t.Fatal(err)
			}
			if resp.Text() != "hi" {
				t.Errorf("text %q, want \"hi\"", resp.Text())
			}
			if got := proto.Load(); got != "HTTP/2.0" {
				t.Errorf("the server saw %v, want HTTP/2.0: the default client does not negotiate HTTP/2", got)
			}
		})
	}
}

// TestDefaultClientDoesNotSerialiseStreams opens 1,000 streams through
// lm/openai's default client against a server that holds every stream
// open, after its first chunk, until all 1,000 have arrived. With the
// server's 250 streams per connection, the 251st stream gets its first
// chunk only if the client opens a connection instead of queueing behind
// the full one (http.HTTP2Config.StrictMaxConcurrentRequests false, Go's
// default). Each stream is opened after the previous one got its first
// chunk, so the client knows the server's limit and the connection count
// is exact: 4. (A burst on a cold client: TestDefaultClientColdBurst.)
func TestDefaultClientDoesNotSerialiseStreams(t *testing.T) {
	const n, perConn = 1000, 250 // perConn: Go's server default
	var arrived atomic.Int64
	all := make(chan struct{})
	srv := newH2Server(t, func(w http.ResponseWriter, r *http.Request) {
		isStream(r)
		if r.ProtoMajor != 2 {
			http.Error(w, "not HTTP/2: "+r.Proto, http.StatusHTTPVersionNotSupported)
			return
		}
		w.Header().Set("Content-Type", sseMediaType)
		io.WriteString(w, openaiChunk)
		w.(http.Flusher).Flush()
		if arrived.Add(1) == n {
			close(all)
		}
		select {
		case <-all:
			io.WriteString(w, openaiEnd)
		case <-r.Context().Done(): // the test failed and ended
		}
	})
	c := openai.New("m", openai.WithBaseURL(srv.URL+"/v1"), openai.WithRetry(lm.NoRetry()))
	req := &lm.Request{Messages: []lm.Message{{Role: lm.RoleUser, Content: "hello"}}}
	first := make(chan struct{}, n)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(t.Context()) // on failure, ends the open streams
	defer cancel()
	for i := range n {
		wg.Go(func() {
			got := false
			for ch, err := range c.Stream(ctx, req) {
				if err != nil {
					errs <- err
					return
				}
				if !got && ch.Text != "" {
					got = true
					first <- struct{}{}
				}
			}
		})
		select {
		case <-first:
		case err := <-errs:
			t.Fatalf("stream %d: %v", i, err)
		case <-time.After(20 * time.Second):
			t.Fatalf("stream %d got no first chunk in 20 s while %d streams are open over %d connections: the client queues it behind a full connection",
				i, arrived.Load(), srv.conns.Load())
		}
	}
	// All n are open at the server now, which lets them end.
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatalf("the streams did not end 20 s after all %d were open", n)
	}
	close(errs)
	for err := range errs {
		t.Errorf("stream: %v", err)
	}
	if got, want := srv.conns.Load(), int64((n+perConn-1)/perConn); got != want {
		t.Errorf("%d streams over %d TCP connections, want %d (%d per connection)", n, got, want, perConn)
	}
}

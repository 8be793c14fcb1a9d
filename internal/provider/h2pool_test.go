package provider_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/godspy/dspy/internal/provider"
	"github.com/godspy/dspy/lm"
	"github.com/godspy/dspy/lm/openai"
)

// holdServer is a TLS server (HTTP/2 if h2) whose handler holds every call
// until n calls are in flight at once, then answers them all; it counts the
// TCP connections it accepts. A call that is not let through in 20 s fails.
type holdServer struct {
	*httptest.Server
	conns   atomic.Int64
	arrived atomic.Int64
	all     chan struct{}
}

func newHoldServer(t *testing.T, h2 bool, n int) *holdServer {
	s := &holdServer{all: make(chan struct{})}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		stream := isStream(r)
		if h2 != (r.ProtoMajor == 2) {
			http.Error(w, "unexpected protocol "+r.Proto, http.StatusHTTPVersionNotSupported)
			return
		}
		if stream {
			w.Header().Set("Content-Type", sseMediaType)
			io.WriteString(w, openaiChunk)
			w.(http.Flusher).Flush()
		}
		if s.arrived.Add(1) == int64(n) {
			close(s.all)
		}
		select {
		case <-s.all:
		case <-r.Context().Done():
			return
		case <-time.After(20 * time.Second):
			http.Error(w, fmt.Sprintf("only %d of %d calls in flight at once", s.arrived.Load(), n), http.StatusGatewayTimeout)
			return
		}
		if stream {
			io.WriteString(w, openaiEnd)
			return
		}
		w.Header().Set("Content-Type", jsonMediaType)
		io.WriteString(w, openaiReply)
	}))
	s.EnableHTTP2 = h2
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

// TestDefaultClientColdBurst starts n calls at once on a host the default
// client has no connection to. Over HTTP/2 they need ceil(n/250)
// connections at Go's server default of 250 streams per connection;
// net/http's Transport alone dials once per call that finds no free
// stream (hundreds). Over HTTP/1.1 every call needs its own connection, and
// all n must be in flight at once: the client does not cap a host.
func TestDefaultClientColdBurst(t *testing.T) {
	tests := []struct {
		name     string
		h2       bool
		stream   bool
		n        int
		maxConns int64 // HTTP/2: twice the ideal, ceil(n/250)
	}{
		{"h2 streams", true, true, 1000, 8},
		{"h2 blocking", true, false, 2000, 16},
		{"http1 blocking", false, false, 1000, 1001},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newHoldServer(t, tt.h2, tt.n)
			c := openai.New("m", openai.WithBaseURL(srv.URL+"/v1"), openai.WithRetry(lm.NoRetry()))
			req := &lm.Request{Messages: []lm.Message{{Role: lm.RoleUser, Content: "hello"}}}
			ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
			defer cancel()
			start := make(chan struct{})
			errs := make(chan error, tt.n)
			var wg sync.WaitGroup
			for range tt.n {
				wg.Go(func() {
					<-start
					var err error
					if tt.stream {
						_, err = lm.Collect(c.Stream(ctx, req))
					} else {
						_, err = c.Generate(ctx, req)
					}
					if err != nil {
						errs <- err
					}
				})
			}
			close(start)
			wg.Wait()
			close(errs)
			nerr := 0
			for err := range errs {
				if nerr++; nerr <= 3 {
					t.Errorf("call: %v", err)
				}
			}
			if nerr > 3 {
				t.Errorf("... %d calls failed", nerr)
			}
			if got := srv.arrived.Load(); got != int64(tt.n) {
				t.Errorf("%d calls reached the server, want %d", got, tt.n)
			}
			if got := srv.conns.Load(); got > tt.maxConns {
				t.Errorf("%d calls opened %d TCP connections, want at most %d", tt.n, got, tt.maxConns)
			}
			t.Logf("%d calls, %d TCP connections", tt.n, srv.conns.Load())
		})
	}
}

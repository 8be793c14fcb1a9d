package provider

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// gatedPool is an h2Pool to an HTTP/2 TLS server whose dials wait for
// gate, so a test can hold calls in the waiting queue.
func gatedPool(t *testing.T) (*h2Pool, *httptest.Server, chan struct{}, *atomic.Int64) {
	var open atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Proto)
	}))
	srv.EnableHTTP2 = true
	srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		switch st {
		case http.StateNew:
			open.Add(1)
		case http.StateClosed, http.StateHijacked:
			open.Add(-1)
		}
	}
	srv.StartTLS()
	gate := make(chan struct{})
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	tr := &http.Transport{
		ForceAttemptHTTP2: true,
		TLSClientConfig:   &tls.Config{RootCAs: roots},
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			select {
			case <-gate:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	}
	p := newH2Pool(tr)
	t.Cleanup(func() {
		p.CloseIdleConnections()
		srv.Close()
	})
	return p, srv, gate, &open
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("after 10 s: %s", what)
		}
	}
}

func (p *h2Pool) host(t *testing.T, srv *httptest.Server) *h2Host {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	h := p.hosts[srv.Listener.Addr().String()]
	if h == nil {
		t.Fatal("no pool for the server's host")
	}
	return h
}

// TestH2PoolCancelWhileWaiting cancels calls queued for a connection and
// checks that they return at once, that they leave no reserved stream
// behind, and that the calls still waiting get through.
func TestH2PoolCancelWhileWaiting(t *testing.T) {
	const canceled, kept = 300, 300
	p, srv, gate, _ := gatedPool(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	get := func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
		if err != nil {
			return err
		}
		resp, err := p.RoundTrip(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err == nil && string(b) != "HTTP/2.0" {
			err = errors.New("server saw " + string(b))
		}
		return err
	}
	var wg sync.WaitGroup
	cancelErrs := make(chan error, canceled)
	keptErrs := make(chan error, kept)
	for range canceled {
		wg.Go(func() { cancelErrs <- get(ctx) })
	}
	for range kept {
		wg.Go(func() { keptErrs <- get(t.Context()) })
	}
	var h *h2Host
	waitFor(t, "the calls are not all waiting", func() bool {
		p.mu.Lock()
		h = p.hosts[srv.Listener.Addr().String()]
		p.mu.Unlock()
		if h == nil {
			return false
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		return h.waiting == canceled+kept
	})
	cancel()
	for range canceled {
		select {
		case err := <-cancelErrs:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("canceled call: %v, want context.Canceled", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a canceled call did not return in 10 s")
		}
	}
	h.mu.Lock()
	if h.waiting != kept {
		t.Errorf("%d calls waiting after the cancel, want %d", h.waiting, kept)
	}
	h.mu.Unlock()
	close(gate)
	wg.Wait()
	close(keptErrs)
	for err := range keptErrs {
		if err != nil {
			t.Errorf("call: %v", err)
		}
	}
	h.mu.Lock()
	conns := append([]*http.ClientConn(nil), h.conns...)
	h.mu.Unlock()
	if len(conns) == 0 || len(conns) > 2 {
		t.Errorf("%d connections for %d calls, want 1 or 2", len(conns), kept)
	}
	for _, cc := range conns {
		if n := cc.InFlight(); n != 0 {
			t.Errorf("a connection has %d streams in flight or reserved after every call ended", n)
		}
	}
}

// TestH2PoolCloseIdleConnections checks that CloseIdleConnections closes
// the pooled connections and that the next call dials again.
func TestH2PoolCloseIdleConnections(t *testing.T) {
	p, srv, gate, open := gatedPool(t)
	close(gate)
	c := &http.Client{Transport: p}
	for range 2 {
		resp, err := c.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.ProtoMajor != 2 {
			t.Fatalf("protocol %s, want HTTP/2", resp.Proto)
		}
		if n := open.Load(); n != 1 {
			t.Errorf("%d connections open after a call, want 1", n)
		}
		c.CloseIdleConnections()
		waitFor(t, "CloseIdleConnections left a connection open", func() bool { return open.Load() == 0 })
		h := p.host(t, srv)
		waitFor(t, "a closed connection stays in the pool", func() bool {
			h.mu.Lock()
			defer h.mu.Unlock()
			return len(h.conns) == 0
		})
	}
}

// TestH2PoolDialFailure: when the only dial fails, the waiting calls go to
// the Transport, which dials for each and reports its own error.
func TestH2PoolDialFailure(t *testing.T) {
	const n = 50
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens: every dial is refused
	p := newH2Pool(&http.Transport{ForceAttemptHTTP2: true})
	defer p.CloseIdleConnections()
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "https://"+addr, nil)
			if err != nil {
				errs <- err
				return
			}
			resp, err := p.RoundTrip(req)
			if err == nil {
				resp.Body.Close()
			}
			errs <- err
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("calls to a refusing host did not return in 20 s")
	}
	close(errs)
	for err := range errs {
		if err == nil || !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("call: %v, want connection refused", err)
		}
	}
	p.mu.Lock()
	h := p.hosts[addr]
	p.mu.Unlock()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.waiting != 0 || h.dialing != 0 || len(h.conns) != 0 {
		t.Errorf("after the calls: %d waiting, %d dialing, %d connections, want 0, 0, 0", h.waiting, h.dialing, len(h.conns))
	}
}

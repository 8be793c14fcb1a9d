package lm

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"testing/synctest"
	"time"
)

// post sends one request with hc and returns the error of Do, or of
// reading the body when Do succeeded.
func post(t *testing.T, hc *http.Client, url string) error {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, strings.NewReader("{}"))
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = io.ReadAll(resp.Body)
	if err == nil {
		t.Fatalf("POST %s succeeded", url)
	}
	return err
}

func client(t *testing.T, tr *http.Transport) *http.Client {
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// tcpServer accepts connections on loopback and hands each to serve.
func tcpServer(t *testing.T, serve func(net.Conn)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			serve(c)
		}
	}()
	t.Cleanup(func() { l.Close(); <-done })
	return l.Addr().String()
}

// dnsServer answers every query on loopback with rcode (3 NXDOMAIN, 2
// SERVFAIL) and returns a resolver that asks only it.
func dnsServer(t *testing.T, rcode byte) *net.Resolver {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 1500)
		for {
			n, addr, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if n < 12 {
				continue
			}
			// The query back, as a response (QR) with recursion available
			// and rcode, keeping the id and the question.
			resp := append([]byte(nil), buf[:n]...)
			resp[2] |= 0x80
			resp[3] = 0x80 | rcode
			clear(resp[6:12]) // no answer, authority or additional records
			resp = resp[:12+questionLen(resp[12:])]
			pc.WriteTo(resp, addr)
		}
	}()
	t.Cleanup(func() { pc.Close(); <-done })
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", pc.LocalAddr().String())
	}}
}

// questionLen is the length of the first question of a DNS message body.
func questionLen(b []byte) int {
	i := 0
	for i < len(b) && b[i] != 0 {
		i += int(b[i]) + 1
	}
	return min(i+1+4, len(b)) // the root label, type and class
}

// TestRetryableRealErrors classifies errors produced by really sending
// requests: what can succeed later is retried, a configuration error is not.
func TestRetryableRealErrors(t *testing.T) {
	tests := []struct {
		name    string
		produce func(t *testing.T) error
		want    bool
		config  bool
	}{
		{"connection refused", func(t *testing.T) error {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			addr := l.Addr().String()
			l.Close()
			err = post(t, client(t, &http.Transport{}), "http://"+addr+"/v1")
			if !errors.Is(err, syscall.ECONNREFUSED) {
				t.Fatalf("err = %v, want connection refused", err)
			}
			return err
		}, true, false},
		{"connection reset", func(t *testing.T) error {
			addr := tcpServer(t, func(c net.Conn) {
				bufio.NewReader(c).ReadString('\n') // the request has arrived
				c.(*net.TCPConn).SetLinger(0)       // close with RST
				c.Close()
			})
			err := post(t, client(t, &http.Transport{}), "http://"+addr+"/v1")
			if !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, io.EOF) {
				t.Fatalf("err = %v, want connection reset", err)
			}
			return err
		}, true, false},
		{"closed before the response (EOF)", func(t *testing.T) error {
			addr := tcpServer(t, func(c net.Conn) {
				bufio.NewReader(c).ReadString('\n')
				c.Close()
			})
			return post(t, client(t, &http.Transport{}), "http://"+addr+"/v1")
		}, true, false},
		{"body cut short (unexpected EOF)", func(t *testing.T) error {
			addr := tcpServer(t, func(c net.Conn) {
				bufio.NewReader(c).ReadString('\n')
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"id\":")
				c.Close()
			})
			err := post(t, client(t, &http.Transport{}), "http://"+addr+"/v1")
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("err = %v, want unexpected EOF", err)
			}
			return err
		}, true, false},
		{"DNS temporary failure (SERVFAIL)", func(t *testing.T) error {
			tr := &http.Transport{DialContext: (&net.Dialer{Resolver: dnsServer(t, 2)}).DialContext}
			err := post(t, client(t, tr), "http://godspy-test.invalid/v1")
			var dns *net.DNSError
			if !errors.As(err, &dns) || dns.IsNotFound {
				t.Fatalf("err = %v, want a DNS failure other than not found", err)
			}
			return err
		}, true, false},
		{"unsupported scheme", func(t *testing.T) error {
			return post(t, client(t, &http.Transport{}), "ftp://example.com/v1")
		}, false, true},
		{"URL that does not parse", func(t *testing.T) error {
			return post(t, client(t, &http.Transport{}), "http://[::1/v1")
		}, false, true},
		{"URL without a host", func(t *testing.T) error {
			return post(t, client(t, &http.Transport{}), "http:///v1")
		}, false, true},
		{"DNS no such host", func(t *testing.T) error {
			tr := &http.Transport{DialContext: (&net.Dialer{Resolver: dnsServer(t, 3)}).DialContext}
			err := post(t, client(t, tr), "http://godspy-test.invalid/v1")
			var dns *net.DNSError
			if !errors.As(err, &dns) || !dns.IsNotFound {
				t.Fatalf("err = %v, want no such host", err)
			}
			return err
		}, false, true},
		{"TLS certificate of an unknown authority", func(t *testing.T) error {
			srv := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
			srv.Config.ErrorLog = discardLog()
			t.Cleanup(srv.Close)
			return post(t, client(t, &http.Transport{}), srv.URL+"/v1")
		}, false, true},
		{"https to a plain HTTP server", func(t *testing.T) error {
			srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
			t.Cleanup(srv.Close)
			return post(t, client(t, &http.Transport{}), "https://"+srv.Listener.Addr().String()+"/v1")
		}, false, true},
		{"caller's context canceled", func(t *testing.T) error {
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://127.0.0.1:1/v1", nil)
			_, err := client(t, &http.Transport{}).Do(req)
			return err
		}, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.produce(t)
			if got := Retryable(err); got != tt.want {
				t.Errorf("Retryable(%v) = %v, want %v", err, got, tt.want)
			}
			// A policy gives up at once on a configuration error, and says so.
			n := 0
			perr := RetryPolicy{BaseDelay: time.Nanosecond}.Do(t.Context(), func(context.Context) (http.Header, error) {
				n++
				return nil, err
			})
			if got := errors.Is(perr, ErrConfig); got != tt.config {
				t.Errorf("Do: errors.Is(%v, ErrConfig) = %v, want %v", perr, got, tt.config)
			}
			if tt.config && n != 1 {
				t.Errorf("Do made %d attempts on a configuration error, want 1", n)
			}
			if !errors.Is(perr, err) {
				t.Errorf("Do returned %v, which does not wrap the attempt's %v", perr, err)
			}
		})
	}
}

// TestRetryableTimeout: a transport timeout (ResponseHeaderTimeout) is
// retryable although it matches context.DeadlineExceeded; the caller's own
// deadline is not. The server never answers; synctest's clock runs the
// timeout. (http.Client.Timeout cannot be used here: it tells its timeout
// by time.Now().After(deadline), never true on a fake clock that stops at
// the deadline.)
func TestRetryableTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		silent := func(ctx context.Context, _, _ string) (net.Conn, error) {
			c, s := net.Pipe()
			go func() { io.Copy(io.Discard, s); s.Close() }() // reads, never answers
			return c, nil
		}
		tr := &http.Transport{DialContext: silent, ResponseHeaderTimeout: 10 * time.Second}
		defer tr.CloseIdleConnections()
		hc := &http.Client{Transport: tr}
		err := post(t, hc, "http://provider.test/v1")
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want a client timeout", err)
		}
		if !Retryable(err) {
			t.Errorf("Retryable(%v) = false, want true", err)
		}
		plain := &http.Transport{DialContext: silent}
		defer plain.CloseIdleConnections()
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://provider.test/v1", nil)
		_, err = (&http.Client{Transport: plain}).Do(req)
		if !errors.Is(err, context.DeadlineExceeded) || Retryable(err) {
			t.Errorf("caller's deadline: Retryable(%v) = %v, want false", err, Retryable(err))
		}
	})
}

func discardLog() *log.Logger { return log.New(io.Discard, "", 0) }

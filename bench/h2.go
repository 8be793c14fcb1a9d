package main

// The HTTP/2 workloads (W2-h2, W4-h2): W2 and W4 against a TLS server with
// HTTP/2 enabled, as real providers are.
//
// Server side (serve-lm -h2): a TLS + HTTP/2 front (net/http's server
// defaults, 250 streams per connection) that forwards every request to
// dspytest over plaintext HTTP/1.1 and copies the reply back, flushing
// each read. It stamps reply tokens as it forwards them (the relay of the
// plaintext workloads cannot: it would see only TLS records) and counts
// the TCP connections it accepts and the requests per protocol.
//
// Client side: before the contender is built, run fetches the front's
// certificate and makes it the process's only system root through
// SSL_CERT_FILE, the way one trusts a private CA for a Go program whose
// transport one does not build. Every contender's client is therefore
// unchanged: godspy runs its default client, the floor and the peers that
// take an *http.Client the shared one, dspy-go its own transport.

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"
)

// h2Specs are W2 and W4 over TLS + HTTP/2, with W2's and W4's settings.
func h2Specs(w2 []int, w4n int) []spec {
	var out []spec
	for _, n := range w2 {
		out = append(out, spec{workload: "W2-h2", n: n, words: 20, server: []string{"-words", "20", "-ttft", "200ms", "-h2"}})
	}
	return append(out, spec{workload: "W4-h2", n: w4n, words: 100, server: []string{"-words", "100", "-delay", "20ms", "-stamps", "-h2"}})
}

// h2Stats is what the front counted during one client run.
type h2Stats struct {
	Conns      int64 `json:"conns"`       // TCP connections accepted
	H2Requests int64 `json:"h2_requests"` // requests over HTTP/2
	H1Requests int64 `json:"h1_requests"` // requests over HTTP/1.x
}

// h2Front is the TLS + HTTP/2 server in front of dspytest.
type h2Front struct {
	srv     *httptest.Server
	backend string // dspytest's root, http://host:port
	hc      *http.Client
	stamps  *relay // nil without -stamps; only its stamps are used
	conns   atomic.Int64
	h2, h1  atomic.Int64
}

// serveH2 runs the front for the dspytest server at url (".../v1") until
// stdin closes, printing serve-lm's line with an https URL.
func serveH2(url string, stamps bool) error {
	f := &h2Front{backend: strings.TrimSuffix(url, "/v1")}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns, t.MaxIdleConnsPerHost, t.MaxConnsPerHost = 0, 1<<16, 0
	t.DisableCompression = true // forward the bytes as dspytest wrote them
	f.hc = &http.Client{Transport: t}
	if stamps {
		f.stamps = &relay{stamps: map[token]int64{}}
	}
	f.srv = httptest.NewUnstartedServer(http.HandlerFunc(f.forward))
	cert, err := selfSigned()
	if err != nil {
		return err
	}
	f.srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	f.srv.EnableHTTP2 = true
	f.srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			f.conns.Add(1)
		}
	}
	f.srv.Config.ErrorLog = log.New(io.Discard, "", 0) // handshakes cut by a client's timeout
	f.srv.StartTLS()
	defer f.srv.Close()
	ctl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer ctl.Close()
	mux := http.NewServeMux()
	mux.HandleFunc("/stamps", func(w http.ResponseWriter, r *http.Request) {
		if f.stamps != nil {
			f.stamps.serveStamps(w, r)
		}
	})
	mux.HandleFunc("/conns", func(w http.ResponseWriter, _ *http.Request) {
		json.NewEncoder(w).Encode(h2Stats{Conns: f.conns.Load(), H2Requests: f.h2.Load(), H1Requests: f.h1.Load()})
	})
	mux.HandleFunc("/ca", func(w http.ResponseWriter, _ *http.Request) {
		pem.Encode(w, &pem.Block{Type: "CERTIFICATE", Bytes: f.srv.Certificate().Raw})
	})
	go http.Serve(ctl, mux)
	fmt.Printf("URL %s/v1 STAMPS http://%s/stamps\n", f.srv.URL, ctl.Addr())
	io.Copy(io.Discard, os.Stdin)
	return nil
}

// selfSigned is an ECDSA P-256 certificate for 127.0.0.1 that is its own
// CA. ECDSA, as the big providers' edges serve to Go clients, keeps the
// server's share of each handshake small (httptest's default certificate
// is RSA 2048, whose signatures would load the machine the client shares).
func selfSigned() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "bench h2 front"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

// hopHeaders are not forwarded (RFC 9110 7.6.1; HTTP/2 forbids them).
var hopHeaders = map[string]bool{"Connection": true, "Keep-Alive": true, "Transfer-Encoding": true, "Upgrade": true, "Proxy-Connection": true, "Te": true, "Trailer": true}

func (f *h2Front) forward(w http.ResponseWriter, r *http.Request) {
	if r.ProtoMajor == 2 {
		f.h2.Add(1)
	} else {
		f.h1.Add(1)
	}
	req, err := http.NewRequestWithContext(r.Context(), r.Method, f.backend+r.URL.RequestURI(), r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	req.ContentLength = r.ContentLength
	for k, v := range r.Header {
		if !hopHeaders[k] {
			req.Header[k] = v
		}
	}
	resp, err := f.hc.Do(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	for k, v := range resp.Header {
		if !hopHeaders[k] {
			w.Header()[k] = v
		}
	}
	w.WriteHeader(resp.StatusCode)
	fl := w.(http.Flusher)
	buf := make([]byte, 32<<10)
	carry := make([]byte, 0, 64)
	var found []token
	for {
		n, err := resp.Body.Read(buf)
		if n > 0 {
			if f.stamps != nil {
				// As the plaintext relay: the forward time of each token.
				now := time.Now().UnixNano()
				found = found[:0]
				scan := append(carry, buf[:n]...)
				scanTokens(scan, false, true, func(t token) { found = append(found, t) })
				if len(found) > 0 {
					f.stamps.mu.Lock()
					for _, t := range found {
						if _, ok := f.stamps.stamps[t]; !ok {
							f.stamps.stamps[t] = now
						}
					}
					f.stamps.mu.Unlock()
				}
				carry = append(carry[:0], scan[max(0, len(scan)-32):]...)
			}
			if _, werr := w.Write(buf[:n]); werr != nil {
				return
			}
			fl.Flush()
		}
		if err != nil {
			return
		}
	}
}

// h2Trust makes the front's certificate the process's system root when url
// is https, before any TLS verification (Go reads the roots once).
func h2Trust(url, stampURL string) error {
	if !strings.HasPrefix(url, "https://") {
		return nil
	}
	resp, err := http.Get(strings.TrimSuffix(stampURL, "/stamps") + "/ca")
	if err != nil {
		return fmt.Errorf("fetching the test CA: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("fetching the test CA: %w", err)
	}
	dir, err := os.MkdirTemp("", "bench-h2-ca")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(file, b, 0o600); err != nil {
		return err
	}
	os.Setenv("SSL_CERT_FILE", file)
	// Load the roots now, while the file exists.
	if _, err := x509.SystemCertPool(); err != nil {
		return fmt.Errorf("loading the test CA: %w", err)
	}
	return nil
}

// h2Fetch returns the front's counts after the run, nil for plaintext.
func h2Fetch(ctx context.Context, url, stampURL string) (*h2Stats, error) {
	if !strings.HasPrefix(url, "https://") {
		return nil, nil
	}
	req, _ := http.NewRequestWithContext(ctx, "GET", strings.TrimSuffix(stampURL, "/stamps")+"/conns", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetching connection counts: %w", err)
	}
	defer resp.Body.Close()
	var s h2Stats
	if err := json.NewDecoder(bufio.NewReader(resp.Body)).Decode(&s); err != nil {
		return nil, fmt.Errorf("fetching connection counts: %w", err)
	}
	return &s, nil
}

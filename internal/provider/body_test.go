package provider

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// The request NewPost makes leaves Host empty, so that http.Client.Do does
// not keep a copy of its URL (for the cookie jar) while the call waits,
// and the Host header on the wire is still the URL's host.
func TestNewPostHost(t *testing.T) {
	var gotHost, gotBody string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		gotHost, gotBody = r.Host, string(b)
	}))
	defer srv.Close()
	hreq, err := NewPost(context.Background(), srv.URL+"/v1/chat/completions", NewBody([]byte(`{"a":1}`), nil))
	if err != nil {
		t.Fatal(err)
	}
	if hreq.Host != "" {
		t.Errorf("Request.Host = %q, want empty (URL.Host is sent)", hreq.Host)
	}
	resp, err := srv.Client().Do(hreq)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if want := strings.TrimPrefix(srv.URL, "http://"); gotHost != want {
		t.Errorf("Host header %q, want %q", gotHost, want)
	}
	if gotBody != `{"a":1}` {
		t.Errorf("body %q, want {\"a\":1}", gotBody)
	}
}

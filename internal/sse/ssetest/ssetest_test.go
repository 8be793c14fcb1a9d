package ssetest

import (
	"bytes"
	"io"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/godspy/dspy/internal/sse"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type ev struct{ Event, Data string }

func decode(t *testing.T, r io.Reader) []ev {
	t.Helper()
	d := sse.NewDecoder(r, 0)
	var out []ev
	for d.Next() {
		out = append(out, ev{string(d.Event()), string(d.Data())})
	}
	if err := d.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestReframe(t *testing.T) {
	body := []byte("event: a\ndata: 1\n\ndata: 2\ndata: 3\n\n: c\ndata: 4\n\nevent: b\ndata: 5\n\n")
	got := Reframe(body)
	want := []byte("\ufeffevent: a\rdata: 1\r\rdata:\r\revent: ping\rdata\r\r" +
		"data: 2\r\ndata: 3\r\n\r\n" + ": c\ndata: 4\n\n" + "event: b\rdata: 5\r\r")
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Fatalf("-want +got\n%s", diff)
	}
	wantEvents := []ev{{"a", "1"}, {"", ""}, {"ping", ""}, {"", "2\n3"}, {"", "4"}, {"b", "5"}}
	if diff := cmp.Diff(wantEvents, decode(t, bytes.NewReader(got))); diff != "" {
		t.Errorf("decoded: -want +got\n%s", diff)
	}
}

func TestCutAfterCR(t *testing.T) {
	got := CutAfterCR([]byte("a\r\nb\rc\n"))
	if diff := cmp.Diff([][]byte{[]byte("a\r"), []byte("\nb\r"), []byte("c\n")}, got); diff != "" {
		t.Errorf("-want +got\n%s", diff)
	}
}

func TestServer(t *testing.T) {
	srv := Server(t, CutAfterCR([]byte("data: a\r\n\r\ndata: b\r\r")))
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("Content-Type %q", ct)
	}
	if diff := cmp.Diff([]ev{{"", "a"}, {"", "b"}}, decode(t, resp.Body)); diff != "" {
		t.Errorf("-want +got\n%s", diff)
	}
}

package sse

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
)

type ev struct{ Event, Data string }

func decodeAll(r io.Reader, max int) ([]ev, error) {
	d := NewDecoder(r, max)
	var out []ev
	for d.Next() {
		out = append(out, ev{string(d.Event()), string(d.Data())})
	}
	return out, d.Err()
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []ev
	}{
		{"empty", "", nil},
		{"one", "data: {\"a\":1}\n\n", []ev{{"", `{"a":1}`}}},
		{"no space", "data:x\n\n", []ev{{"", "x"}}},
		{"two spaces keep one", "data:  x\n\n", []ev{{"", " x"}}},
		{"multi-line data", "data: a\ndata: b\n\n", []ev{{"", "a\nb"}}},
		{"event type", "event: ping\ndata: {}\n\nevent: error\ndata: e\n\n", []ev{{"ping", "{}"}, {"error", "e"}}},
		{"event type resets", "event: a\ndata: 1\n\ndata: 2\n\n", []ev{{"a", "1"}, {"", "2"}}},
		{"comments", ": OPENROUTER PROCESSING\n\n: x\ndata: y\n\n", []ev{{"", "y"}}},
		{"crlf", "data: a\r\n\r\ndata: b\r\n\r\n", []ev{{"", "a"}, {"", "b"}}},
		{"no trailing blank", "data: a\n\ndata: b", []ev{{"", "a"}, {"", "b"}}},
		{"no trailing blank lf", "data: a\n", []ev{{"", "a"}}},
		{"done", "data: x\n\ndata: [DONE]\n\n", []ev{{"", "x"}, {"", "[DONE]"}}},
		{"event without data skipped", "event: ping\n\ndata: z\n\n", []ev{{"", "z"}}},
		{"empty data dispatches", "data\n\n", []ev{{"", ""}}},
		{"id and retry ignored", "id: 7\nretry: 10\ndata: q\n\n", []ev{{"", "q"}}},
		{"blank lines between", "\n\n\ndata: q\n\n\n\n", []ev{{"", "q"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, r := range []io.Reader{strings.NewReader(tt.in), iotest.OneByteReader(strings.NewReader(tt.in))} {
				got, err := decodeAll(r, 0)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("-want +got\n%s", diff)
				}
			}
		})
	}
}

func TestLongLines(t *testing.T) {
	big := strings.Repeat("x", 200<<10)
	got, err := decodeAll(strings.NewReader("data: "+big+"\n\ndata: b\n\n"), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Data != big || got[1].Data != "b" {
		t.Fatalf("got %d events", len(got))
	}
	_, err = decodeAll(strings.NewReader("data: "+big+"\n\n"), 100<<10)
	if !errors.Is(err, ErrLineTooLong) {
		t.Fatalf("err = %v, want ErrLineTooLong", err)
	}
}

func TestReadError(t *testing.T) {
	boom := errors.New("boom")
	r := io.MultiReader(strings.NewReader("data: a\n\ndata: b"), iotest.ErrReader(boom))
	got, err := decodeAll(r, 0)
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	if diff := cmp.Diff([]ev{{"", "a"}}, got); diff != "" {
		t.Errorf("-want +got\n%s", diff)
	}
}

func TestIsDone(t *testing.T) {
	if !IsDone([]byte("[DONE]")) || IsDone([]byte("[DONE] ")) {
		t.Fatal("IsDone")
	}
}

func TestAllocs(t *testing.T) {
	body := bytes.Repeat([]byte("data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\n"), 100)
	r := bytes.NewReader(body)
	d := NewDecoder(r, 0)
	d.Next() // warm buffers
	allocs := testing.AllocsPerRun(1, func() {
		for d.Next() {
		}
	})
	if allocs > 0 {
		t.Errorf("allocs = %v, want 0", allocs)
	}
}

func BenchmarkDecode(b *testing.B) {
	body := bytes.Repeat([]byte("data: {\"id\":\"chatcmpl-1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\" hello\"},\"finish_reason\":null}]}\n\n"), 1000)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	r := bytes.NewReader(body)
	for b.Loop() {
		r.Reset(body)
		d := NewDecoder(r, 0)
		for d.Next() {
		}
	}
}

// FuzzDecode checks that arbitrary input never panics, that the decoder's
// output does not depend on how the input is split into reads, and that
// re-encoding the events decodes to the same events.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		"data: a\n\n", "event: x\ndata: 1\ndata: 2\n\n", ": c\r\ndata: z\r\n\r\n", "data: [DONE]",
		"data\n\nid: 1\n\n", "\r\n\r\ndata:\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		whole, err1 := decodeAll(bytes.NewReader(in), 64)
		bytewise, err2 := decodeAll(iotest.OneByteReader(bytes.NewReader(in)), 64)
		if (err1 == nil) != (err2 == nil) {
			t.Fatalf("errors differ: %v vs %v", err1, err2)
		}
		if err1 != nil {
			return
		}
		if diff := cmp.Diff(whole, bytewise); diff != "" {
			t.Fatalf("split changes result:\n%s", diff)
		}
		var re bytes.Buffer
		for _, e := range whole {
			if strings.ContainsAny(e.Event, "\r\n") {
				return // not representable as one line
			}
			if e.Event != "" {
				re.WriteString("event: " + e.Event + "\n")
			}
			for _, l := range strings.Split(e.Data, "\n") {
				if strings.HasSuffix(l, "\r") {
					return
				}
				re.WriteString("data: " + l + "\n")
			}
			re.WriteString("\n")
		}
		again, err := decodeAll(&re, 0)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(whole, again); diff != "" {
			t.Fatalf("round trip:\n%s", diff)
		}
	})
}

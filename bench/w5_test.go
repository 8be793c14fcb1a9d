//go:build !bench_only

package main

import (
	"context"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/godspy/dspy/dspytest"
)

func TestAnswerStream(t *testing.T) {
	reply := "[[ ## answer ## ]]\n" + replyWords(4, 6) + "\n\n[[ ## completed ## ]]"
	tests := []struct {
		name   string
		chunks []string
	}{
		{"one chunk", []string{reply}},
		{"words", splitWords(reply)},
		{"bytes", strings.Split(reply, "")},
		{"prose before the header", append([]string{"Sure. [[ ## reasoning ## ]]\nhm\n\n"}, splitWords(reply)...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p answerStream
			var got []byte
			for _, c := range tt.chunks {
				n := len(got)
				got = p.feed(got, c)
				// A token is released in the chunk that completes it.
				if out := string(got[n:]); strings.HasPrefix(c, " s4w") && !strings.HasPrefix(out, c[:5]) {
					t.Errorf("chunk %q released %q, want its token at once", c, out)
				}
			}
			if want := "\n" + replyWords(4, 6) + "\n\n"; string(got) != want {
				t.Errorf("answer text: want %q, got %q", want, got)
			}
		})
	}
}

// splitWords splits s as dspytest.WithChunkWords(1) does: each word with
// the spaces before it.
func splitWords(s string) []string {
	var out []string
	for i := 0; i < len(s); {
		j := i
		for j < len(s) && s[j] == ' ' {
			j++
		}
		for j < len(s) && s[j] != ' ' {
			j++
		}
		out = append(out, s[i:j])
		i = j
	}
	return out
}

func TestAppendSSEData(t *testing.T) {
	if got, want := string(appendSSEData(nil, []byte("\nwords: a\nb"))), "data: \ndata: words: a\ndata: b\n\n"; got != want {
		t.Errorf("want %q, got %q", want, got)
	}
}

// TestW5Servers runs every W5 server under test in this process against a
// dspytest server, with a few SSE clients: each must get its whole answer,
// every token on time for a latency sample.
func TestW5Servers(t *testing.T) {
	const streams, words = 5, 30
	lmSrv := dspytest.NewServer(dspytest.WithoutRecording(), dspytest.WithChunkWords(1), dspytest.WithResponder(responder(words)))
	defer lmSrv.Close()
	for _, name := range w5Contenders {
		t.Run(name, func(t *testing.T) {
			build, ok := w5Servers[name]
			if !ok {
				t.Fatalf("no W5 server for %s", name)
			}
			h, stop, err := build(lmSrv.URL())
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(h)
			defer stop()
			defer srv.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			hc := sharedHTTPClient()
			var wg sync.WaitGroup
			errs := make([]error, streams)
			recv := make([][]int64, streams)
			for id := range streams {
				recv[id] = make([]int64, words)
				wg.Go(func() { _, errs[id] = w5Stream(ctx, hc, srv.URL+w5Path, id, words, name == "floor", recv[id]) })
			}
			wg.Wait()
			for id, err := range errs {
				if err != nil {
					t.Errorf("stream %d: %v", id, err)
				}
				if i := slices.Index(recv[id], 0); i >= 0 {
					t.Errorf("stream %d: token %d never read", id, i)
				}
			}
		})
	}
}

func TestW5Runs(t *testing.T) {
	tests := []struct {
		c, w string
		want bool
	}{
		{"floor", "W5", true},
		{"godspy-resume", "W5", true},
		{"godspy-resume", "W4", false},
		{"openai-go", "W5", false},
		{"openai-go", "W1", true},
	}
	for _, tt := range tests {
		if got := w5Runs(tt.c, tt.w); got != tt.want {
			t.Errorf("w5Runs(%q, %q) = %v, want %v", tt.c, tt.w, got, tt.want)
		}
	}
}

func TestChunkText(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"predict_name":"predict","signature_field_name":"answer","chunk":" s1w2","is_last_chunk":false,"call_id":1}`, " s1w2"},
		{`{"predict_name":"predict","signature_field_name":"answer","chunk":"\nwords: \"a\\\\\"","is_last_chunk":false}`, "\nwords: \"a\\\\\""},
	}
	for _, tt := range tests {
		got, err := chunkText([]byte(tt.in))
		if err != nil || string(got) != tt.want {
			t.Errorf("chunkText(%s) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{`{"signature_field_name":"answer","chunk":"abc`, `{"signature_field_name":"reasoning","chunk":"x"}`} {
		if _, err := chunkText([]byte(bad)); err == nil {
			t.Errorf("chunkText(%s): no error", bad)
		}
	}
}

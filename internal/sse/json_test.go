package sse

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestJSONDecoder(t *testing.T) {
	type obj struct {
		A string `json:"a"`
		N *int   `json:"n"`
	}
	var d JSONDecoder
	inputs := []string{
		`{"a":"x"}`, ` {"a":"y","n":3}  `, `{"a":"` + strings.Repeat("z", 5000) + `"}`, `{}`, `{"a":1}`, `{"a":"ok"}`,
		`{"a":"p"} {"a":"q"}`, `{"a":"after"}`, `{"a":`, `{"a":"again"}`, ``, `null`, "\t{\"a\":\"tab\"}\n",
	}
	for _, in := range inputs {
		var want, got obj
		werr := json.Unmarshal([]byte(in), &want)
		gerr := d.Decode([]byte(in), &got)
		if (werr == nil) != (gerr == nil) {
			t.Errorf("%.40q: Unmarshal err %v, Decode err %v", in, werr, gerr)
			continue
		}
		if werr == nil {
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%.40q: -Unmarshal +Decode\n%s", in, diff)
			}
		}
	}
}

func TestJSONDecoderAllocs(t *testing.T) {
	type chunk struct {
		Choices []struct {
			Delta struct {
				Content string `json:"content"`
			} `json:"delta"`
		} `json:"choices"`
	}
	data := []byte(`{"id":"x","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":null}]}`)
	var d JSONDecoder
	var c chunk
	d.Decode(data, &c)
	d.Decode(data, &c)
	got := testing.AllocsPerRun(100, func() {
		c.Choices = c.Choices[:0]
		if err := d.Decode(data, &c); err != nil {
			t.Fatal(err)
		}
	})
	unm := testing.AllocsPerRun(100, func() {
		c.Choices = c.Choices[:0]
		json.Unmarshal(data, &c)
	})
	t.Logf("allocs per chunk: JSONDecoder %v, json.Unmarshal %v", got, unm)
	if got > 2 {
		t.Errorf("JSONDecoder allocs = %v, want <= 2", got)
	}
}

// FuzzJSONDecoder checks JSONDecoder against json.Unmarshal on a sequence
// of values split at NUL bytes.
func FuzzJSONDecoder(f *testing.F) {
	f.Add([]byte(`{"a":1}` + "\x00" + `[1,2]` + "\x00" + `"s" ` + "\x00" + `{"a":` + "\x00" + `{}x`))
	f.Fuzz(func(t *testing.T, in []byte) {
		var d JSONDecoder
		for _, part := range strings.Split(string(in), "\x00") {
			var want, got any
			werr := json.Unmarshal([]byte(part), &want)
			gerr := d.Decode([]byte(part), &got)
			if (werr == nil) != (gerr == nil) {
				t.Fatalf("%q: Unmarshal err %v, Decode err %v", part, werr, gerr)
			}
			if werr == nil {
				if diff := cmp.Diff(want, got); diff != "" {
					t.Fatalf("%q: -Unmarshal +Decode\n%s", part, diff)
				}
			}
		}
	})
}

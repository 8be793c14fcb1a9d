package sse

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// reference is the standard's "parse an event stream" and "dispatch the
// event", written to be read against the text rather than to be fast: the
// whole input at once, strings, no buffers reused. It also returns the
// length of the longest line, ended or not, for the line limit.
func reference(in string) (res result, longest int) {
	in = strings.TrimPrefix(in, bom) // one BOM, at the start only
	var lines []string
	for {
		i := strings.IndexAny(in, "\r\n")
		if i < 0 {
			longest = max(longest, len(in))
			break // a line without its end is never processed
		}
		lines = append(lines, in[:i])
		longest = max(longest, i)
		if in[i] == '\r' && i+1 < len(in) && in[i+1] == '\n' {
			i++
		}
		in = in[i+1:]
	}
	var data, eventType, lastIDBuf string
	for _, line := range lines {
		if line == "" {
			// Dispatch the event.
			res.ID = lastIDBuf
			if data == "" {
				data, eventType = "", ""
				continue
			}
			data = strings.TrimSuffix(data, "\n")
			res.Events = append(res.Events, ev{eventType, data, res.ID})
			data, eventType = "", ""
			continue
		}
		if line[0] == ':' {
			continue
		}
		name, value := line, ""
		if i := strings.IndexByte(line, ':'); i >= 0 {
			name, value = line[:i], line[i+1:]
			value = strings.TrimPrefix(value, " ")
		}
		switch name {
		case "event":
			eventType = value
		case "data":
			data += value + "\n"
		case "id":
			if !strings.Contains(value, "\x00") {
				lastIDBuf = value
			}
		case "retry":
			if value != "" && strings.Trim(value, "0123456789") == "" {
				n, err := strconv.ParseInt(value, 10, 64)
				rt := time.Duration(n) * time.Millisecond
				if err != nil || n > int64(time.Duration(1<<63-1)/time.Millisecond) {
					rt = 1<<63 - 1
				}
				res.Retry = rt.String()
			}
		}
	}
	return res, longest
}

// text is b decoded as UTF-8, each invalid byte replaced by U+FFFD.
func text(b string) string { return string([]rune(b)) }

func textResult(r result) result {
	out := result{ID: text(r.ID), Retry: r.Retry}
	for _, e := range r.Events {
		out.Events = append(out.Events, ev{text(e.Event), text(e.Data), text(e.ID)})
	}
	return out
}

func TestReference(t *testing.T) {
	// The reference must itself pass the WPT and rule tables; run them
	// through it once so a wrong reference cannot hide a wrong decoder.
	for _, tt := range [][]tcase{wptCases(), ruleCases()} {
		for _, c := range tt {
			got, _ := reference(c.in)
			want := result{Events: c.want, ID: c.id, Retry: c.retry}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("%s: -want +reference\n%s", c.name, diff)
			}
		}
	}
}

// FuzzDecode checks the decoder against the reference for any input, under
// every delivery mode; that decoding its byte results as UTF-8 gives what
// the reference gives on the decoded input (the standard's order); and
// that a line limit either changes nothing or stops the stream with
// ErrLineTooLong after a prefix of the events, exactly when a line is
// over it.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		"data: a\n\n", "event: x\ndata: 1\ndata: 2\n\n", ": c\r\ndata: z\r\n\r\n", "data: [DONE]",
		"data\n\nid: 1\n\n", "\r\n\r\ndata:\r\n", bom + "data: a\r\rdata: b\r\n\r\n", "id: 1\x00\nretry: 12\n\n",
		"data: \xff\xe2\x82\r\n\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		want, longest := reference(string(in))
		for _, m := range modes {
			got, err := decodeAll(m.reader(in), 0)
			if err != nil {
				t.Fatalf("%s: %v", m.name, err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("%s: -reference +decoder\n%s", m.name, diff)
			}
		}
		decoded, _ := reference(text(string(in)))
		got, _ := decodeAll(bytes.NewReader(in), 0)
		if diff := cmp.Diff(decoded, textResult(got)); diff != "" {
			t.Fatalf("UTF-8 decoding first: -reference +decoder\n%s", diff)
		}
		const limit = 16
		for _, m := range modes {
			got, err := decodeAll(m.reader(in), limit)
			switch {
			case longest > limit:
				if !errors.Is(err, ErrLineTooLong) {
					t.Fatalf("%s: a line of %d bytes, limit %d: err = %v", m.name, longest, limit, err)
				}
				if len(got.Events) > len(want.Events) {
					t.Fatalf("%s: %d events before the long line, reference has %d in all", m.name, len(got.Events), len(want.Events))
				}
				if diff := cmp.Diff(want.Events[:len(got.Events)], got.Events, cmpopts.EquateEmpty()); diff != "" {
					t.Fatalf("%s: events before the long line: -reference +decoder\n%s", m.name, diff)
				}
			case err != nil:
				t.Fatalf("%s: longest line %d, limit %d: %v", m.name, longest, limit, err)
			default:
				if diff := cmp.Diff(want, got); diff != "" {
					t.Fatalf("%s with limit: -reference +decoder\n%s", m.name, diff)
				}
			}
		}
	})
}

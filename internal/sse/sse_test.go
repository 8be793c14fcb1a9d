package sse

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/google/go-cmp/cmp"
)

// ev is one dispatched event as a test sees it: its type (empty for the
// default, "message"), data and lastEventId.
type ev struct{ Event, Data, ID string }

// result is what a whole stream gives: the events, then the last event ID
// and the reconnection time ("" when the stream set none) at its end.
type result struct {
	Events []ev
	ID     string
	Retry  string
}

func decodeAll(r io.Reader, max int) (result, error) {
	d := NewDecoder(r, max)
	var res result
	for d.Next() {
		res.Events = append(res.Events, ev{string(d.Event()), string(d.Data()), string(d.ID())})
	}
	res.ID = string(d.ID())
	if rt, ok := d.Retry(); ok {
		res.Retry = rt.String()
	}
	return res, d.Err()
}

// crReader returns its bytes up to and including each CR, so a CRLF is split
// between two reads.
type crReader struct{ b []byte }

func (r *crReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := len(r.b)
	if i := bytes.IndexByte(r.b, '\r'); i >= 0 {
		n = i + 1
	}
	n = copy(p, r.b[:n])
	r.b = r.b[n:]
	return n, nil
}

// modes are the ways of delivering a body every case runs under.
var modes = []struct {
	name   string
	reader func([]byte) io.Reader
}{
	{"whole", func(b []byte) io.Reader { return bytes.NewReader(b) }},
	{"one byte per read", func(b []byte) io.Reader { return iotest.OneByteReader(bytes.NewReader(b)) }},
	{"cut after every CR", func(b []byte) io.Reader { return &crReader{b} }},
}

// tcase is a body and exactly what the standard makes of it.
type tcase struct {
	name  string
	in    string
	want  []ev
	id    string // the last event ID at the end
	retry string // the reconnection time set, as a time.Duration string
}

func run(t *testing.T, cases []tcase) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			want := result{Events: tt.want, ID: tt.id, Retry: tt.retry}
			for _, m := range modes {
				got, err := decodeAll(m.reader([]byte(tt.in)), 0)
				if err != nil {
					t.Fatalf("%s: %v", m.name, err)
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("%s: -want +got\n%s", m.name, diff)
				}
			}
		})
	}
}

// §9.2.5: lines end in CRLF, a lone LF or a lone CR.
var lineEndingsCases = []tcase{
	{name: "LF", in: "data: a\n\ndata: b\n\n", want: []ev{{Data: "a"}, {Data: "b"}}},
	{name: "CRLF", in: "data: a\r\n\r\ndata: b\r\n\r\n", want: []ev{{Data: "a"}, {Data: "b"}}},
	{name: "lone CR", in: "data: a\r\rdata: b\r\r", want: []ev{{Data: "a"}, {Data: "b"}}},
	{name: "lone CR multi-line data", in: "event: e\rdata: a\rdata: b\r\r", want: []ev{{"e", "a\nb", ""}}},
	{name: "mixed", in: "data: a\rdata: b\ndata: c\r\n\n", want: []ev{{Data: "a\nb\nc"}}},
	{name: "CR CR LF is a line then a blank line", in: "data: a\r\r\n", want: []ev{{Data: "a"}}},
	{name: "LF CR is two line ends", in: "data: a\n\r", want: []ev{{Data: "a"}}},
	{name: "CR LF CR", in: "data: a\r\n\rdata: b\r\n\r", want: []ev{{Data: "a"}, {Data: "b"}}},
	{name: "CRLF LF", in: "data: a\r\n\n", want: []ev{{Data: "a"}}},
	{name: "CR ends the stream", in: "data: a\r\r", want: []ev{{Data: "a"}}},
	{name: "blank lines only", in: "\r\n\n\r\r\n", want: nil},
	{name: "CR in a value ends the line", in: "data: a\rb\n\n", want: []ev{{Data: "a"}}},
}

func TestLineEndings(t *testing.T) { run(t, lineEndingsCases) }

// §9.2.5: the UTF-8 decode strips one leading byte order mark.
var bomCases = []tcase{
	{name: "stripped", in: bom + "data: a\n\n", want: []ev{{Data: "a"}}},
	{name: "then a blank line", in: bom + "\ndata: a\n\n", want: []ev{{Data: "a"}}},
	{name: "then a comment", in: bom + ": c\ndata: a\n\n", want: []ev{{Data: "a"}}},
	{name: "only one", in: bom + bom + "data: a\n\ndata: b\n\n", want: []ev{{Data: "b"}}},
	{name: "only at the start", in: "data: a\n\n" + bom + "data: b\n\ndata: c\n\n", want: []ev{{Data: "a"}, {Data: "c"}}},
	{name: "a BOM in a value stays", in: "data: " + bom + "a\n\n", want: []ev{{Data: bom + "a"}}},
	{name: "a partial BOM is part of the field name", in: "\xef\xbbdata: a\n\ndata: b\n\n", want: []ev{{Data: "b"}}},
	{name: "BOM alone", in: bom, want: nil},
	{name: "partial BOM alone", in: "\xef", want: nil},
}

func TestBOM(t *testing.T) { run(t, bomCases) }

// §9.2.5: a line starting with a colon is a comment.
var commentsCases = []tcase{
	{name: "comment lines", in: ": OPENROUTER PROCESSING\n\n:\ndata: y\n:data: z\n\n", want: []ev{{Data: "y"}}},
	{name: "comment does not dispatch", in: "data: a\n: c\ndata: b\n\n", want: []ev{{Data: "a\nb"}}},
	{name: "comment only stream", in: ": ping\n\n: ping\n\n", want: nil},
}

func TestComments(t *testing.T) { run(t, commentsCases) }

// §9.2.5: a line without a colon is a field name with an empty value.
var fieldWithoutColonCases = []tcase{
	{name: "data", in: "data\n\n", want: []ev{{Data: ""}}},
	{name: "data twice", in: "data\ndata\n\n", want: []ev{{Data: "\n"}}},
	{name: "event resets type", in: "event: a\nevent\ndata: x\n\n", want: []ev{{Data: "x"}}},
	{name: "id resets ID", in: "id: 1\ndata: x\n\nid\ndata: y\n\n", want: []ev{{Data: "x", ID: "1"}, {Data: "y"}}},
	{name: "retry is not digits", in: "retry\ndata: x\n\n", want: []ev{{Data: "x"}}},
	{name: "data with trailing space is another field", in: "data \n\n", want: nil},
}

func TestFieldWithoutColon(t *testing.T) { run(t, fieldWithoutColonCases) }

// §9.2.5: one space after the colon is dropped, no more, and only a space.
var leadingSpaceCases = []tcase{
	{name: "none", in: "data:x\n\n", want: []ev{{Data: "x"}}},
	{name: "one", in: "data: x\n\n", want: []ev{{Data: "x"}}},
	{name: "two keep one", in: "data:  x\n\n", want: []ev{{Data: " x"}}},
	{name: "space only", in: "data: \n\n", want: []ev{{Data: ""}}},
	{name: "tab kept", in: "data:\tx\n\n", want: []ev{{Data: "\tx"}}},
	{name: "trailing space kept", in: "data: x \n\n", want: []ev{{Data: "x "}}},
	{name: "event", in: "event:  e\ndata: x\n\n", want: []ev{{" e", "x", ""}}},
	{name: "id", in: "id:  7\ndata: x\n\n", want: []ev{{Data: "x", ID: " 7"}}, id: " 7"},
	{name: "retry with two spaces is not digits", in: "retry:  7\ndata: x\n\n", want: []ev{{Data: "x"}}},
	{name: "colon in value", in: "data: a:b: c\n\n", want: []ev{{Data: "a:b: c"}}},
	{name: "space before colon is part of the name", in: "data : x\n\n", want: nil},
	{name: "space before the name", in: " data: x\n\n", want: nil},
}

func TestLeadingSpace(t *testing.T) { run(t, leadingSpaceCases) }

// §9.2.5: data fields are joined with LF; the last LF goes at dispatch.
var dataCases = []tcase{
	{name: "one line", in: "data: {\"a\":1}\n\n", want: []ev{{Data: `{"a":1}`}}},
	{name: "multi-line", in: "data: a\ndata: b\ndata: c\n\n", want: []ev{{Data: "a\nb\nc"}}},
	{name: "empty value dispatches empty data", in: "data:\n\n", want: []ev{{Data: ""}}},
	{name: "empty lines of data", in: "data:\ndata:\n\n", want: []ev{{Data: "\n"}}},
	{name: "empty then text", in: "data:\ndata: a\n\n", want: []ev{{Data: "\na"}}},
	{name: "NUL kept", in: "data: a\x00b\n\n", want: []ev{{Data: "a\x00b"}}},
	{name: "invalid UTF-8 kept as bytes", in: "data: \xff\xe2\x82\n\n", want: []ev{{Data: "\xff\xe2\x82"}}},
	{name: "done", in: "data: x\n\ndata: [DONE]\n\n", want: []ev{{Data: "x"}, {Data: "[DONE]"}}},
	{name: "blank lines between", in: "\n\n\ndata: q\n\n\n\n", want: []ev{{Data: "q"}}},
}

func TestData(t *testing.T) { run(t, dataCases) }

// §9.2.6: an event without a data field is not dispatched; its type is reset.
var dispatchWithoutDataCases = []tcase{
	{name: "event only", in: "event: ping\n\ndata: z\n\n", want: []ev{{Data: "z"}}},
	{name: "unknown field only", in: "foo: bar\n\ndata: z\n\n", want: []ev{{Data: "z"}}},
	{name: "id only still sets the ID", in: "id: 3\n\ndata: z\n\n", want: []ev{{Data: "z", ID: "3"}}, id: "3"},
	{name: "id only at the end", in: "data: z\n\nid: 4\n\n", want: []ev{{Data: "z"}}, id: "4"},
}

func TestDispatchWithoutData(t *testing.T) { run(t, dispatchWithoutDataCases) }

// §9.2.5: event sets the type; it is reset after every blank line.
var eventTypeCases = []tcase{
	{name: "types", in: "event: ping\ndata: {}\n\nevent: error\ndata: e\n\n", want: []ev{{"ping", "{}", ""}, {"error", "e", ""}}},
	{name: "reset after dispatch", in: "event: a\ndata: 1\n\ndata: 2\n\n", want: []ev{{"a", "1", ""}, {"", "2", ""}}},
	{name: "last one wins", in: "event: a\nevent: b\ndata: x\n\n", want: []ev{{"b", "x", ""}}},
	{name: "after data", in: "data: x\nevent: a\n\n", want: []ev{{"a", "x", ""}}},
	{name: "empty is the default", in: "event:\ndata: x\n\n", want: []ev{{"", "x", ""}}},
	{name: "message is kept as sent", in: "event: message\ndata: x\n\n", want: []ev{{"message", "x", ""}}},
	{name: "colon in type", in: "event: a:b\ndata: x\n\n", want: []ev{{"a:b", "x", ""}}},
}

func TestEventType(t *testing.T) { run(t, eventTypeCases) }

// §9.2.5: id sets the last event ID buffer unless it holds NUL; §9.2.6:
// the ID persists across events.
var idCases = []tcase{
	{name: "set", in: "id: 7\ndata: q\n\n", want: []ev{{Data: "q", ID: "7"}}, id: "7"},
	{name: "persists", in: "id: 1\ndata: a\n\ndata: b\n\n", want: []ev{{Data: "a", ID: "1"}, {Data: "b", ID: "1"}}, id: "1"},
	{name: "changes", in: "id: 1\ndata: a\n\nid: 2\ndata: b\n\n", want: []ev{{Data: "a", ID: "1"}, {Data: "b", ID: "2"}}, id: "2"},
	{name: "reset by empty", in: "id: 1\ndata: a\n\nid:\ndata: b\n\n", want: []ev{{Data: "a", ID: "1"}, {Data: "b"}}},
	{name: "NUL ignored", in: "id: 1\ndata: a\n\nid: 2\x00\ndata: b\n\n", want: []ev{{Data: "a", ID: "1"}, {Data: "b", ID: "1"}}, id: "1"},
	{name: "NUL alone ignored", in: "id: \x00\ndata: a\n\n", want: []ev{{Data: "a"}}},
	{name: "last id field wins", in: "id: 1\nid: 2\ndata: a\n\n", want: []ev{{Data: "a", ID: "2"}}, id: "2"},
	{name: "after data in the event", in: "data: a\nid: 5\n\n", want: []ev{{Data: "a", ID: "5"}}, id: "5"},
	{name: "in an undispatched last event", in: "id: 1\ndata: a\n\nid: 2\ndata: b\n", want: []ev{{Data: "a", ID: "1"}}, id: "1"},
	{name: "colon and spaces kept", in: "id: a: b \ndata: x\n\n", want: []ev{{Data: "x", ID: "a: b "}}, id: "a: b "},
}

func TestID(t *testing.T) { run(t, idCases) }

// §9.2.5: retry sets the reconnection time if its value is ASCII digits.
var retryCases = []tcase{
	{name: "set", in: "retry: 10\ndata: q\n\n", want: []ev{{Data: "q"}}, retry: "10ms"},
	{name: "leading zero is decimal", in: "retry: 0100\n\n", retry: "100ms"},
	{name: "zero", in: "retry: 0\n\n", retry: "0s"},
	{name: "last valid wins", in: "retry: 10\nretry: 20\nretry: 3x\n\n", retry: "20ms"},
	{name: "not digits", in: "retry: 1.5\nretry: -1\nretry: +1\nretry: 1 \nretry: x\nretry: 1e3\n\n", retry: ""},
	{name: "empty", in: "retry:\nretry: \n\n", retry: ""},
	{name: "without dispatch", in: "retry: 5\n", retry: "5ms"},
	{name: "huge saturates", in: "retry: 99999999999999999999999999\n\n", retry: time.Duration(1<<63 - 1).String()},
	{name: "largest exact", in: "retry: 9223372036854\n\n", retry: (9223372036854 * time.Millisecond).String()},
	{name: "unicode digits are not ASCII digits", in: "retry: \xd9\xa1\n\n", retry: ""},
}

func TestRetry(t *testing.T) { run(t, retryCases) }

// §9.2.5: other field names are ignored; names are case-sensitive.
var unknownFieldsCases = []tcase{
	{name: "unknown", in: "foo: bar\ndata: a\nbaz\n\n", want: []ev{{Data: "a"}}},
	{name: "case-sensitive", in: "Data: a\nEVENT: e\nId: 1\nRetry: 1\ndata: b\n\n", want: []ev{{Data: "b"}}},
	{name: "prefix of a name", in: "dat: a\ndatas: b\ndata: c\n\n", want: []ev{{Data: "c"}}},
	{name: "NUL in name", in: "data\x00: a\ndata: c\n\n", want: []ev{{Data: "c"}}},
}

func TestUnknownFields(t *testing.T) { run(t, unknownFieldsCases) }

// §9.2.5: at the end of the stream the pending event is discarded.
var endOfStreamCases = []tcase{
	{name: "empty", in: "", want: nil},
	{name: "no end of line", in: "data: a\n\ndata: b", want: []ev{{Data: "a"}}},
	{name: "no blank line after LF", in: "data: a\n", want: nil},
	{name: "no blank line after CRLF", in: "data: a\r\n", want: nil},
	{name: "no blank line after CR", in: "data: a\r", want: nil},
	{name: "only a partial line", in: "data", want: nil},
	{name: "the last line without end is not processed", in: "retry: 7", retry: ""},
	{name: "done without blank line", in: "data: x\n\ndata: [DONE]\n", want: []ev{{Data: "x"}}},
}

func TestEndOfStream(t *testing.T) { run(t, endOfStreamCases) }

func TestLongLines(t *testing.T) {
	big := strings.Repeat("x", 200<<10)
	for _, m := range modes {
		got, err := decodeAll(m.reader([]byte("data: "+big+"\r\n\r\ndata: b\r\r")), 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Events) != 2 || got.Events[0].Data != big || got.Events[1].Data != "b" {
			t.Fatalf("%s: got %d events", m.name, len(got.Events))
		}
	}
	_, err := decodeAll(strings.NewReader("data: "+big+"\n\n"), 100<<10)
	if !errors.Is(err, ErrLineTooLong) {
		t.Fatalf("err = %v, want ErrLineTooLong", err)
	}
	// Exactly maxLine bytes is allowed, one more is not.
	for _, m := range modes {
		line := "data: " + strings.Repeat("y", 10)
		got, err := decodeAll(m.reader([]byte(line+"\r\n\n")), len(line))
		if err != nil || len(got.Events) != 1 {
			t.Errorf("%s: line of maxLine bytes: %v, %d events", m.name, err, len(got.Events))
		}
		_, err = decodeAll(m.reader([]byte(line+"\n\n")), len(line)-1)
		if !errors.Is(err, ErrLineTooLong) {
			t.Errorf("%s: line of maxLine+1 bytes: err = %v, want ErrLineTooLong", m.name, err)
		}
		_, err = decodeAll(m.reader([]byte(line)), len(line)-1)
		if !errors.Is(err, ErrLineTooLong) {
			t.Errorf("%s: unterminated line of maxLine+1 bytes: err = %v, want ErrLineTooLong", m.name, err)
		}
	}
}

// Data lines far apart in the buffer, and the buffer refilled between a
// data line and its blank line, keep every event's data intact.
func TestDataAcrossRefills(t *testing.T) {
	var in strings.Builder
	var want []ev
	for i := range 500 {
		d := strings.Repeat(string(rune('a'+i%26)), i%97)
		in.WriteString("data: " + d + "\n")
		if i%3 == 0 {
			in.WriteString("data: " + d + "\r")
			d += "\n" + d
			in.WriteString("\r") // a CR, then the CRLF of the blank line
		}
		in.WriteString("\n")
		want = append(want, ev{Data: d})
	}
	for _, m := range modes {
		for _, max := range []int{0, 200} {
			got, err := decodeAll(m.reader([]byte(in.String())), max)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got.Events); diff != "" {
				t.Errorf("%s, max %d: -want +got\n%s", m.name, max, diff)
			}
		}
	}
}

func TestReadError(t *testing.T) {
	boom := errors.New("boom")
	r := io.MultiReader(strings.NewReader("data: a\n\ndata: b\n"), iotest.ErrReader(boom))
	got, err := decodeAll(r, 0)
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	if diff := cmp.Diff([]ev{{Data: "a"}}, got.Events); diff != "" {
		t.Errorf("-want +got\n%s", diff)
	}
	// Data and error in one read: the data is decoded first.
	got, err = decodeAll(iotest.DataErrReader(strings.NewReader("data: a\n\n")), 0)
	if err != nil || len(got.Events) != 1 {
		t.Errorf("DataErrReader: %v, %d events", err, len(got.Events))
	}
}

type zeroReader struct{}

func (zeroReader) Read([]byte) (int, error) { return 0, nil }

func TestNoProgress(t *testing.T) {
	_, err := decodeAll(zeroReader{}, 0)
	if !errors.Is(err, io.ErrNoProgress) {
		t.Fatalf("err = %v, want io.ErrNoProgress", err)
	}
}

func TestIsDone(t *testing.T) {
	if !IsDone([]byte("[DONE]")) || IsDone([]byte("[DONE] ")) {
		t.Fatal("IsDone")
	}
}

// After warming up, decoding an event allocates nothing, whatever its shape.
func TestAllocs(t *testing.T) {
	for _, tt := range []struct{ name, event string }{
		{"LF", "data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\n"},
		{"CRLF", "data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\r\n\r\n"},
		{"CR", "data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\r\r"},
		{"named multi-line with id", "event: content_block_delta\nid: 12\ndata: {\"type\":\"x\",\ndata: \"y\":1}\n\n"},
	} {
		body := bytes.Repeat([]byte(tt.event), 100)
		d := NewDecoder(bytes.NewReader(body), 0)
		d.Next() // warm buffers
		n := 0
		allocs := testing.AllocsPerRun(1, func() {
			for d.Next() {
				n++
			}
		})
		if n != 99 {
			t.Errorf("%s: %d events, want 99", tt.name, n)
		}
		if allocs > 0 {
			t.Errorf("%s: allocs = %v, want 0", tt.name, allocs)
		}
	}
}

// ruleCases are all the cases of the per-rule tests.
func ruleCases() []tcase {
	var all []tcase
	for _, c := range [][]tcase{lineEndingsCases, bomCases, commentsCases, fieldWithoutColonCases, leadingSpaceCases, dataCases, dispatchWithoutDataCases, eventTypeCases, idCases, retryCases, unknownFieldsCases, endOfStreamCases} {
		all = append(all, c...)
	}
	return all
}

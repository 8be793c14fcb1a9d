package sse

import (
	"strings"
	"testing"
)

// The web-platform-tests eventsource/ format tests, transcribed: each case
// is the response body one connection gets and the events the standard
// dispatches from it. Sources, commits and licence: testdata/ATTRIBUTION.md.
// The browser tests also reconnect and check what a second connection
// gets; a Decoder reads one response, so only the first body is here.

// wptMessage is the body eventsource/resources/message.py (and .php) sends
// for ?message=m: m, then "\n\n" unless &newline=none, then "\n".
func wptMessage(m string, newlineNone bool) string {
	if newlineNone {
		return m + "\n"
	}
	return m + "\n\n\n"
}

func TestWPT(t *testing.T) { run(t, wptCases()) }

func wptCases() []tcase {
	x2k := strings.Repeat("x", 2*1024)
	return []tcase{
		// format-bom: the first BOM is stripped, the second is part
		// of a field name, so "2" is never dispatched.
		{name: "format-bom", in: wptMessage("\ufeffdata:1\n\n\ufeffdata:2\n\ndata:3", false),
			want: []ev{{Data: "1"}, {Data: "3"}}},
		// format-bom-2: only one BOM is stripped.
		{name: "format-bom-2", in: wptMessage("\ufeff\ufeffdata:1\n\ndata:2\n\ndata:3", false),
			want: []ev{{Data: "2"}, {Data: "3"}}},
		// format-comments: comments after CR, LF and CRLF, with NUL
		// and long comment lines.
		{name: "format-comments", in: wptMessage("data:1\r:\x00\n:\r\ndata:2\n:"+x2k+"\rdata:3\n:data:fail\r:"+x2k+"\ndata:4\n", true),
			want: []ev{{Data: "1\n2\n3\n4"}}},
		// format-data-before-final-empty-line: the last event has no
		// blank line, so it and its id are discarded.
		{name: "format-data-before-final-empty-line", in: wptMessage("retry:1000\ndata:test1\n\nid:test\ndata:test2", true),
			want: []ev{{Data: "test1"}}, retry: "1s"},
		// format-field-data: "data:" and "data" dispatch "" and "\n".
		{name: "format-field-data", in: wptMessage("data:\n\ndata\ndata\n\ndata:test", false),
			want: []ev{{Data: ""}, {Data: "\n"}, {Data: "test"}}},
		// format-field-event: a named event, then an unnamed one.
		{name: "format-field-event", in: wptMessage("event:test\ndata:x\n\ndata:x", false),
			want: []ev{{Event: "test", Data: "x"}, {Data: "x"}}},
		// format-field-event-empty: "event: " is the default type.
		{name: "format-field-event-empty", in: wptMessage("event: \ndata:data", false),
			want: []ev{{Data: "data"}}},
		// format-field-id, format-field-id-2: the first body
		// resources/last-event-id.py sends.
		{name: "format-field-id", in: "id: …\nretry: 200\ndata: hello\n\n",
			want: []ev{{Data: "hello", ID: "…"}}, id: "…", retry: "200ms"},
		// format-field-id-3 (resources/last-event-id2.py type 1): the ID
		// persists.
		{name: "format-field-id-3 persists", in: "id: 1\ndata: 1\n\ndata:2\n\n",
			want: []ev{{Data: "1", ID: "1"}, {Data: "2", ID: "1"}}, id: "1"},
		// type 2: the ID changes and persists.
		{name: "format-field-id-3 changes and persists", in: "id: 1\ndata: 1\n\nid: 2\ndata:2\n\ndata:3\n\n",
			want: []ev{{Data: "1", ID: "1"}, {Data: "2", ID: "2"}, {Data: "3", ID: "2"}}, id: "2"},
		// type 3: "id:" resets it.
		{name: "format-field-id-3 resets", in: "id: 1\ndata: 1\n\nid:\ndata:2\n\ndata:3\n\n",
			want: []ev{{Data: "1", ID: "1"}, {Data: "2"}, {Data: "3"}}},
		// format-field-id-null (last-event-id.py?idvalue=...): an
		// id holding U+0000 anywhere is ignored.
		{name: "format-field-id-null NUL NUL", in: "id: \x00\x00\nretry: 200\ndata: hello\n\n",
			want: []ev{{Data: "hello"}}, retry: "200ms"},
		{name: "format-field-id-null x NUL", in: "id: x\x00\nretry: 200\ndata: hello\n\n",
			want: []ev{{Data: "hello"}}, retry: "200ms"},
		{name: "format-field-id-null NUL x", in: "id: \x00x\nretry: 200\ndata: hello\n\n",
			want: []ev{{Data: "hello"}}, retry: "200ms"},
		{name: "format-field-id-null x NUL x", in: "id: x\x00x\nretry: 200\ndata: hello\n\n",
			want: []ev{{Data: "hello"}}, retry: "200ms"},
		{name: "format-field-id-null space NUL", in: "id:  \x00\nretry: 200\ndata: hello\n\n",
			want: []ev{{Data: "hello"}}, retry: "200ms"},
		// format-field-parsing: field names are exact, values keep all
		// but one leading space, NUL is data.
		{name: "format-field-parsing", in: wptMessage("data:\x00\ndata:  2\rData:1\ndata\x00:2\ndata:1\r\x00data:4\nda-ta:3\rdata_5\ndata:3\rdata:\r\n data:32\ndata:4\n", true),
			want: []ev{{Data: "\x00\n 2\n1\n3\n\n4"}}},
		// format-field-retry: "02000" is 2000 ms, not octal.
		{name: "format-field-retry", in: wptMessage("retry:02000\ndata:x", false),
			want: []ev{{Data: "x"}}, retry: "2s"},
		// format-field-retry-bogus: "1000x" is ignored.
		{name: "format-field-retry-bogus", in: wptMessage("retry:2000\nretry:1000x\ndata:x", false),
			want: []ev{{Data: "x"}}, retry: "2s"},
		// format-field-retry-empty: "retry" alone is ignored.
		{name: "format-field-retry-empty", in: wptMessage("retry\ndata:test", false),
			want: []ev{{Data: "test"}}},
		// format-field-unknown: unknown fields and a field named " data".
		{name: "format-field-unknown", in: wptMessage("data:test\n data\ndata\nfoobar:xxx\njustsometext\n:thisisacommentyay\ndata:test", false),
			want: []ev{{Data: "test\n\ntest"}}},
		// format-leading-space: a tab is kept; "data: " is empty; a CR
		// ends a line.
		{name: "format-leading-space", in: wptMessage("data:\ttest\rdata: \ndata:test", false),
			want: []ev{{Data: "\ttest\n\ntest"}}},
		// format-newlines: CRLF, LF, and a CR then the server's LF.
		{name: "format-newlines", in: wptMessage("data:test\r\ndata\ndata:test\r\n\r", true),
			want: []ev{{Data: "test\n\ntest"}}},
		// format-null-character.
		{name: "format-null-character", in: wptMessage("data:\x00\n\n", false),
			want: []ev{{Data: "\x00"}}},
		// format-utf-8: the stream is UTF-8 whatever the charset.
		{name: "format-utf-8", in: wptMessage("data:ok\xe2\x80\xa6", false),
			want: []ev{{Data: "ok…"}}},
		// event-data (resources/message2.py, one round of its loop).
		{name: "event-data", in: "data:msg\ndata: msg\n\n:\nfalsefield:msg\n\nfalsefield:msg\nData:data\n\ndata\n\ndata:end\n\n",
			want: []ev{{Data: "msg\nmsg"}, {Data: ""}, {Data: "end"}}},
		// eventsource-from-readable-stream.
		{name: "readable-stream message", in: "data: hello\n\n", want: []ev{{Data: "hello"}}},
		{name: "readable-stream multi-line data", in: "data: hello\ndata: world\n\n", want: []ev{{Data: "hello\nworld"}}},
		{name: "readable-stream multiple events", in: "data: first\n\ndata: second\n\n", want: []ev{{Data: "first"}, {Data: "second"}}},
		{name: "readable-stream custom type", in: "event: custom\ndata: hello\n\n", want: []ev{{Event: "custom", Data: "hello"}}},
		{name: "readable-stream comment", in: ": this is a comment\ndata: hello\n\n", want: []ev{{Data: "hello"}}},
		{name: "readable-stream split across chunks", in: "da" + "ta: hel" + "lo\n\n", want: []ev{{Data: "hello"}}},
		{name: "readable-stream id", in: "id: 42\ndata: hello\n\n", want: []ev{{Data: "hello", ID: "42"}}, id: "42"},
		{name: "readable-stream retry", in: "retry: 5000\ndata: hello\n\n", want: []ev{{Data: "hello"}}, retry: "5s"},
		{name: "readable-stream retry bogus", in: "retry: bogus\ndata: hello\n\n", want: []ev{{Data: "hello"}}},
		{name: "readable-stream empty", in: "", want: nil},
		{name: "readable-stream CR, LF and CRLF", in: "data: cr\r\rdata: lf\n\ndata: crlf\r\n\r\n",
			want: []ev{{Data: "cr"}, {Data: "lf"}, {Data: "crlf"}}},
		{name: "readable-stream BOM", in: "\xef\xbb\xbfdata: hello\n\n", want: []ev{{Data: "hello"}}},
	}
}

// Package sse decodes server-sent event streams (the text/event-stream
// format) as the HTML Living Standard's "parse an event stream" and
// "dispatch the event" algorithms define them (section 9.2.5/9.2.6,
// https://html.spec.whatwg.org/multipage/server-sent-events.html):
//
//   - one leading UTF-8 byte order mark is skipped;
//   - lines end in CRLF, LF or a lone CR, and a CR at the end of one read
//     followed by an LF at the start of the next is one line ending;
//   - a line starting with a colon is a comment; a line without a colon is
//     a field name with an empty value; one space after the colon is
//     dropped, no more;
//   - data fields append their value and an LF to the data buffer; event
//     sets the event type; id sets the last event ID unless it contains
//     U+0000 NULL, and that ID stays for later events until set again;
//     retry sets the reconnection time when its value is ASCII digits;
//     other fields are ignored;
//   - a blank line dispatches the event: if no data field came, nothing is
//     dispatched; otherwise the data, without its last LF, the event type
//     and the last event ID make the event, and data and type are reset;
//   - at the end of the stream the pending event, and any line without its
//     end, are discarded: an event not closed by a blank line is never
//     delivered.
//
// The decoder works on bytes: Data, Event and ID are the bytes of the
// stream. The standard decodes the stream as UTF-8 first, turning invalid
// sequences into U+FFFD; that cannot move a line or field boundary (they
// are ASCII, which UTF-8 decoding never absorbs), so decoding what the
// decoder returns gives exactly the standard's strings. The decoder does
// not rewrite invalid bytes itself: encoding/json replaces them when it
// decodes a string, and the check would cost every chunk a pass.
//
// It is on the per-chunk hot path, so the decoder reuses its buffers: the
// slices it returns are valid only until the next call to Next.
package sse

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"time"
)

// DefaultMaxLine is the longest line a Decoder accepts unless told otherwise.
// Providers send a whole tool-call argument or a whole blocking response in
// one data line, so this is far above bufio.Scanner's 64 KiB default.
const DefaultMaxLine = 8 << 20

// ErrLineTooLong is returned when a line exceeds the decoder's maximum.
var ErrLineTooLong = errors.New("sse: line too long")

// bom is the UTF-8 byte order mark the standard strips from the stream's start.
const bom = "\xef\xbb\xbf"

// Decoder reads events from an event stream. It is not safe for concurrent use.
type Decoder struct {
	rd      io.Reader
	rerr    error // the reader's error, returned once buf is used up
	buf     []byte
	r, w    int // buf[r:w] is read and not yet parsed
	ls      int // start in buf of the line readLine returned
	lf, cr  int // next LF / CR at or after r, or where the last search stopped
	maxLine int
	started bool // the byte order mark check is done
	skipLF  bool // the last line ended in a CR: an LF next is part of it

	// The event being parsed. Its data is buf[ds:de] while it is one data
	// line still in buf (the usual case, no copy), else data.
	data    []byte
	ds, de  int
	inBuf   bool
	hasData bool
	event   []byte
	cur     []byte // the dispatched event's data

	idBuf   []byte // the last event ID buffer
	idSet   bool   // idBuf changed since the last dispatch
	id      []byte // the last event ID string, as of the last blank line
	retry   time.Duration
	retried bool
	err     error
}

// NewDecoder returns a decoder reading r. maxLine bounds the length of one
// line; maxLine <= 0 means DefaultMaxLine.
func NewDecoder(r io.Reader, maxLine int) *Decoder {
	if maxLine <= 0 {
		maxLine = DefaultMaxLine
	}
	size := 4 << 10 // longer lines grow the buffer
	if size > maxLine {
		size = maxLine + 1 // a whole line and its end
	}
	return &Decoder{rd: r, buf: make([]byte, size), maxLine: maxLine}
}

// Next advances to the next event the standard dispatches and reports
// whether there is one. Events without a data field are not dispatched; an
// event whose data fields are empty is, with empty Data. At the end of the
// stream, or on a read error, Next returns false and Err says why (nil for
// a clean end); the event then pending, not closed by a blank line, is
// discarded.
func (d *Decoder) Next() bool {
	if d.err != nil {
		return false
	}
	d.data = d.data[:0]
	d.event = d.event[:0]
	d.hasData, d.inBuf = false, false
	for {
		line, err := d.readLine()
		if err != nil {
			d.err = err
			d.cur = nil
			d.event = d.event[:0]
			return false
		}
		if len(line) == 0 { // dispatch the event
			if d.idSet {
				d.id = append(d.id[:0], d.idBuf...)
				d.idSet = false
			}
			if d.hasData {
				if d.inBuf {
					d.cur = d.buf[d.ds:d.de:d.de]
				} else {
					d.cur = d.data
				}
				return true
			}
			d.event = d.event[:0]
			continue
		}
		// Data lines first and without a search for the colon: they are
		// nearly every line of an LM stream.
		if len(line) >= 5 && line[4] == ':' && string(line[:4]) == "data" {
			d.addData(line, line[5:])
			continue
		}
		if line[0] == ':' {
			continue // a comment
		}
		field, value := line, line[len(line):]
		if i := bytes.IndexByte(line, ':'); i >= 0 {
			field, value = line[:i], line[i+1:]
		}
		switch string(field) {
		case "data":
			d.addData(line, value)
		case "event":
			d.event = append(d.event[:0], cutSpace(value)...)
		case "id":
			if value = cutSpace(value); bytes.IndexByte(value, 0) < 0 {
				d.idBuf = append(d.idBuf[:0], value...)
				d.idSet = true
			}
		case "retry":
			if ms, ok := digits(cutSpace(value)); ok {
				d.retry, d.retried = ms, true
			}
		}
		// Other fields are ignored.
	}
}

// cutSpace drops the one space the standard allows after the colon.
func cutSpace(v []byte) []byte {
	if len(v) > 0 && v[0] == ' ' {
		return v[1:]
	}
	return v
}

// addData appends the value of a data field, which ends line, to the event.
func (d *Decoder) addData(line, value []byte) {
	value = cutSpace(value)
	if !d.hasData {
		d.de = d.ls + len(line)
		d.ds = d.de - len(value)
		d.inBuf, d.hasData = true, true
		return
	}
	if d.inBuf {
		d.keepData()
	}
	d.data = append(d.data, '\n')
	d.data = append(d.data, value...)
}

// digits reads a retry value: ASCII digits only, in milliseconds. A value
// too large for a time.Duration is the largest one.
func digits(b []byte) (time.Duration, bool) {
	const maxMS = math.MaxInt64 / int64(time.Millisecond)
	if len(b) == 0 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		if n <= maxMS {
			n = n*10 + int64(c-'0')
		}
	}
	if n > maxMS {
		return math.MaxInt64, true
	}
	return time.Duration(n) * time.Millisecond, true
}

// keepData copies data that is still in buf to d.data, before buf changes.
func (d *Decoder) keepData() {
	d.data = append(d.data[:0], d.buf[d.ds:d.de]...)
	d.inBuf = false
}

// Data returns the current event's data: its data fields' values joined by
// "\n". It is valid until the next call to Next.
func (d *Decoder) Data() []byte { return d.cur }

// Event returns the current event's type: empty when the stream set none
// or set it empty, which the standard dispatches as "message". It is valid
// until the next call to Next.
func (d *Decoder) Event() []byte { return d.event }

// ID returns the last event ID: during an event, the event's lastEventId;
// after Next returned false, the ID as of the last blank line, which a
// reconnecting client sends as Last-Event-ID. It is empty until the stream
// sets one, and valid until the next call to Next.
func (d *Decoder) ID() []byte { return d.id }

// Retry returns the reconnection time the stream last set with a retry
// field, and whether it set one.
func (d *Decoder) Retry() (time.Duration, bool) { return d.retry, d.retried }

// Err returns the error that stopped Next, or nil at a clean end of stream.
func (d *Decoder) Err() error {
	if d.err == io.EOF {
		return nil
	}
	return d.err
}

// IsDone reports whether data is the "[DONE]" sentinel that OpenAI-style
// streams send last.
func IsDone(data []byte) bool { return string(data) == "[DONE]" }

// readLine returns the next line without its end (CRLF, LF or CR) and
// records its start in d.ls. The slice is valid until the next read. A last
// line without an end is not a line: at the end of input readLine returns
// io.EOF.
func (d *Decoder) readLine() ([]byte, error) {
	if !d.started || d.skipLF {
		if err := d.lineStart(); err != nil {
			return nil, err
		}
	}
	for {
		d.lf = d.find(d.lf, '\n')
		d.cr = d.find(d.cr, '\r')
		end := min(d.lf, d.cr)
		if end < d.w {
			line := d.buf[d.r:end]
			if len(line) > d.maxLine {
				return nil, fmt.Errorf("%w (over %d bytes)", ErrLineTooLong, d.maxLine)
			}
			d.ls = d.r
			d.r = end + 1
			if end == d.cr {
				if d.r < d.w {
					if d.buf[d.r] == '\n' {
						d.r++
					}
				} else {
					d.skipLF = true // the LF, if any, is not read yet
				}
			}
			return line, nil
		}
		if d.w-d.r > d.maxLine {
			return nil, fmt.Errorf("%w (over %d bytes)", ErrLineTooLong, d.maxLine)
		}
		if err := d.fill(); err != nil {
			return nil, err
		}
	}
}

// lineStart does what needs the first bytes of a line: skipping the LF of a
// CRLF split between reads, and the byte order mark at the stream's start.
func (d *Decoder) lineStart() error {
	if d.skipLF {
		if d.r == d.w {
			if err := d.fill(); err != nil {
				return err
			}
		}
		if d.buf[d.r] == '\n' {
			d.r++
		}
		d.skipLF = false
	}
	for !d.started {
		rest := d.buf[d.r:d.w]
		switch {
		case len(rest) >= len(bom):
			if string(rest[:len(bom)]) == bom {
				d.r += len(bom)
			}
			d.started = true
		case string(rest) != bom[:len(rest)]:
			d.started = true
		default: // too few bytes to tell
			if err := d.fill(); err != nil {
				d.started = true
				return err
			}
		}
	}
	return nil
}

// find returns the index of the first c in buf[r:w], or w if there is none.
// at is the last result: bytes before it hold no c.
func (d *Decoder) find(at int, c byte) int {
	if at < d.r {
		at = d.r
	}
	if at == d.w || d.buf[at] == c {
		return at
	}
	if i := bytes.IndexByte(d.buf[at:d.w], c); i >= 0 {
		return at + i
	}
	return d.w
}

// fill reads more input into buf, moving or growing it as needed.
func (d *Decoder) fill() error {
	if d.rerr != nil {
		return d.rerr
	}
	if d.r > 0 || d.w == len(d.buf) {
		if d.inBuf {
			d.keepData()
		}
		if d.r == 0 { // buf holds one partial line: grow it
			nb := make([]byte, min(2*len(d.buf), d.maxLine+1))
			copy(nb, d.buf[:d.w])
			d.buf = nb
		} else {
			n := copy(d.buf, d.buf[d.r:d.w])
			d.lf, d.cr = max(d.lf-d.r, 0), max(d.cr-d.r, 0)
			d.r, d.w = 0, n
		}
	}
	for range 100 {
		n, err := d.rd.Read(d.buf[d.w:])
		if n < 0 || n > len(d.buf)-d.w {
			err = fmt.Errorf("sse: reader returned %d bytes for a buffer of %d", n, len(d.buf)-d.w)
			n = 0
		}
		d.w += n
		if err != nil {
			d.rerr = err
			if n > 0 {
				return nil
			}
			return err
		}
		if n > 0 {
			return nil
		}
	}
	d.rerr = io.ErrNoProgress
	return d.rerr
}

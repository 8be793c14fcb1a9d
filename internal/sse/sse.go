// Package sse decodes server-sent event streams (the text/event-stream
// format) as LM providers send them. It is on the per-chunk hot path, so the
// decoder reuses its buffers: the slices it returns are valid only until the
// next call to Next.
package sse

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// DefaultMaxLine is the longest line a Decoder accepts unless told otherwise.
// Providers send a whole tool-call argument or a whole blocking response in
// one data line, so this is far above bufio.Scanner's 64 KiB default.
const DefaultMaxLine = 8 << 20

// ErrLineTooLong is returned when a line exceeds the decoder's maximum.
var ErrLineTooLong = errors.New("sse: line too long")

// Decoder reads events from an event stream. It is not safe for concurrent use.
type Decoder struct {
	r       *bufio.Reader
	maxLine int
	long    []byte // holds a line longer than the bufio buffer
	data    []byte
	event   []byte
	hasData bool
	err     error
}

// NewDecoder returns a decoder reading r. maxLine bounds the length of one
// line; maxLine <= 0 means DefaultMaxLine.
func NewDecoder(r io.Reader, maxLine int) *Decoder {
	if maxLine <= 0 {
		maxLine = DefaultMaxLine
	}
	size := 4 << 10 // lines longer than this grow a side buffer
	if size > maxLine {
		size = maxLine
	}
	if size < 16 {
		size = 16
	}
	return &Decoder{r: bufio.NewReaderSize(r, size), maxLine: maxLine}
}

// Next advances to the next event that carries data and reports whether there
// is one. At the end of the stream, or on a read error, it returns false and
// Err says why (nil for a clean end). An event at the end of the input is
// delivered even without its closing blank line. Comment lines and events
// without data lines are skipped.
func (d *Decoder) Next() bool {
	if d.err != nil {
		return false
	}
	d.data = d.data[:0]
	d.event = d.event[:0]
	d.hasData = false
	for {
		line, err := d.readLine()
		if err != nil {
			if err == io.EOF {
				if d.hasData {
					d.err = io.EOF
					return true
				}
				err = nil
			}
			if err == nil {
				d.err = io.EOF
			} else {
				d.err = err
			}
			return false
		}
		if len(line) == 0 {
			if d.hasData {
				return true
			}
			d.event = d.event[:0]
			continue
		}
		if line[0] == ':' {
			continue
		}
		field, value := line, []byte(nil)
		if i := bytes.IndexByte(line, ':'); i >= 0 {
			field, value = line[:i], line[i+1:]
			if len(value) > 0 && value[0] == ' ' {
				value = value[1:]
			}
		}
		switch string(field) {
		case "data":
			if d.hasData {
				d.data = append(d.data, '\n')
			}
			d.data = append(d.data, value...)
			d.hasData = true
		case "event":
			d.event = append(d.event[:0], value...)
		}
		// id, retry and unknown fields are ignored.
	}
}

// Data returns the current event's data: its data lines joined by "\n".
// It is valid until the next call to Next.
func (d *Decoder) Data() []byte { return d.data }

// Event returns the current event's type ("" when the stream sent none).
// It is valid until the next call to Next.
func (d *Decoder) Event() []byte { return d.event }

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

// readLine returns the next line without its terminator (LF or CRLF). The
// slice is valid until the next read. A last line without a terminator is
// returned before io.EOF.
func (d *Decoder) readLine() ([]byte, error) {
	line, err := d.r.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		d.long = append(d.long[:0], line...)
		for err == bufio.ErrBufferFull {
			if len(d.long) > d.maxLine {
				return nil, fmt.Errorf("%w (over %d bytes)", ErrLineTooLong, d.maxLine)
			}
			line, err = d.r.ReadSlice('\n')
			d.long = append(d.long, line...)
		}
		line = d.long
	}
	if err != nil && !(err == io.EOF && len(line) > 0) {
		return nil, err
	}
	line = trimEOL(line)
	if len(line) > d.maxLine {
		return nil, fmt.Errorf("%w (over %d bytes)", ErrLineTooLong, d.maxLine)
	}
	return line, nil
}

func trimEOL(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
	}
	if n := len(b); n > 0 && b[n-1] == '\r' {
		b = b[:n-1]
	}
	return b
}

package sse

import (
	"encoding/json"
	"errors"
	"io"
)

// JSONDecoder decodes the JSON data of successive events, reusing one
// json.Decoder's state between them. json.Unmarshal builds its decoder
// state anew on every call (about seven allocations for a small chunk
// object), which on a stream of small chunks is most of the per-chunk
// allocation. The zero value is ready to use; it is not safe for concurrent
// use.
type JSONDecoder struct {
	f   feed
	dec *json.Decoder
}

// errTrailing reports data after the JSON value, as json.Unmarshal does.
var errTrailing = errors.New("sse: invalid character after top-level JSON value")

// Decode decodes data, which must hold exactly one JSON value (surrounding
// white space allowed), into v with encoding/json's rules. After an error
// the next call starts afresh.
func (d *JSONDecoder) Decode(data []byte, v any) error {
	if d.dec == nil {
		d.f = feed{}
		d.dec = json.NewDecoder(&d.f)
	}
	d.f.b = data
	if err := d.dec.Decode(v); err != nil {
		d.dec = nil
		return err
	}
	// Bytes of data the value did not use: buffered in the decoder, or not
	// yet read from the feed. They must be white space.
	rest := int(d.f.total-d.dec.InputOffset()) + len(d.f.b)
	if rest > 0 {
		if rest > len(data) || !jsonSpace(data[len(data)-rest:]) {
			d.dec = nil
			return errTrailing
		}
		d.f.b = nil // unread white space is dropped, never counted
	}
	return nil
}

// jsonSpace reports whether b is only JSON white space (not bytes.TrimSpace's
// wider Unicode set: "\v" after a value is an error).
func jsonSpace(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			return false
		}
	}
	return true
}

// feed hands the decoder one event's data; total counts bytes handed over.
type feed struct {
	b     []byte
	total int64
}

func (f *feed) Read(p []byte) (int, error) {
	if len(f.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, f.b)
	f.b = f.b[n:]
	f.total += int64(n)
	return n, nil
}

//go:build !bench_only || bench_floor

package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
)

// The W5 floor: a hand-written net/http handler that sends the floor's
// ChatAdapter prompt (the bytes godspy sends), reads the provider's SSE
// with bufio, parses the answer field's text out of the reply as it
// streams and writes it to the client as SSE data lines, flushed per
// chunk, then "event: done".
func init() {
	w5Servers["floor"] = func(lmURL string) (http.Handler, func(), error) {
		mux := http.NewServeMux()
		mux.Handle(w5Path, &w5Floor{floor: floor{url: lmURL + "/chat/completions", hc: sharedHTTPClient()}})
		return mux, func() {}, nil
	}
}

type w5Floor struct{ floor floor }

func (f *w5Floor) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "use POST", http.StatusMethodNotAllowed)
		return
	}
	var in struct {
		Question string `json:"question"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&in); err != nil || in.Question == "" {
		http.Error(w, "send {\"question\": ...}", http.StatusBadRequest)
		return
	}
	resp, err := f.floor.do(r.Context(), in.Question, true)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	fl, _ := w.(http.Flusher)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)

	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20) // starts at 4 KiB, as bufio.Scanner does
	var ev struct {
		Choices []struct {
			Delta struct {
				Content string `json:"content"`
			} `json:"delta"`
		} `json:"choices"`
	}
	var p answerStream
	var text, out []byte
	for sc.Scan() {
		data, ok := bytes.CutPrefix(sc.Bytes(), []byte("data: "))
		if !ok {
			continue
		}
		if string(data) == "[DONE]" {
			break
		}
		ev.Choices = ev.Choices[:0]
		if err := json.Unmarshal(data, &ev); err != nil {
			w.Write([]byte("event: error\ndata: the provider's stream is malformed\n\n"))
			return
		}
		if len(ev.Choices) == 0 || ev.Choices[0].Delta.Content == "" {
			continue
		}
		text = p.feed(text[:0], ev.Choices[0].Delta.Content)
		if len(text) == 0 {
			continue
		}
		out = appendSSEData(out[:0], text)
		if _, err := w.Write(out); err != nil {
			return // the client left; the request's context ends the provider's stream
		}
		if fl != nil {
			fl.Flush()
		}
	}
	if sc.Err() != nil {
		w.Write([]byte("event: error\ndata: the provider's stream failed\n\n"))
		return
	}
	w.Write([]byte("event: done\ndata: \n\n"))
}

// appendSSEData appends text as one SSE event: a "data:" line per line of
// text, then the blank line.
func appendSSEData(b, text []byte) []byte {
	b = append(b, "data: "...)
	for _, c := range text {
		if c == '\n' {
			b = append(b, "\ndata: "...)
			continue
		}
		b = append(b, c)
	}
	return append(b, "\n\n"...)
}

// answerStream parses the answer field's text out of a ChatAdapter reply
// as it streams: nothing before the "[[ ## answer ## ]]" header, the text
// after it up to the next "[[ ## " marker, at once except for a tail that
// could be the start of a marker.
type answerStream struct {
	buf     []byte // before the header: the reply so far; after: the held-back tail
	in, end bool
}

const (
	answerHeader = "[[ ## answer ## ]]"
	fieldMarker  = "[[ ## "
)

// feed takes the reply's next chunk and appends to dst the answer text it
// releases.
func (p *answerStream) feed(dst []byte, chunk string) []byte {
	if p.end {
		return dst
	}
	p.buf = append(p.buf, chunk...)
	if !p.in {
		i := bytes.Index(p.buf, []byte(answerHeader))
		if i < 0 {
			return dst
		}
		p.buf = p.buf[:copy(p.buf, p.buf[i+len(answerHeader):])]
		p.in = true
	}
	if j := bytes.Index(p.buf, []byte(fieldMarker)); j >= 0 {
		p.end = true
		return append(dst, p.buf[:j]...)
	}
	keep := 0 // the longest tail that is a proper prefix of the marker
	for k := min(len(fieldMarker)-1, len(p.buf)); k > 0; k-- {
		if bytes.HasSuffix(p.buf, []byte(fieldMarker[:k])) {
			keep = k
			break
		}
	}
	dst = append(dst, p.buf[:len(p.buf)-keep]...)
	p.buf = p.buf[:copy(p.buf, p.buf[len(p.buf)-keep:])]
	return dst
}

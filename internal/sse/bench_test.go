package sse

import (
	"bytes"
	"testing"
)

func benchDecode(b *testing.B, event string) {
	body := bytes.Repeat([]byte(event), 1000)
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

const benchEvent = "data: {\"id\":\"chatcmpl-1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\" hello\"},\"finish_reason\":null}]}"

// BenchmarkDecode is an OpenAI-shaped stream of 1000 small chunks.
func BenchmarkDecode(b *testing.B) { benchDecode(b, benchEvent+"\n\n") }

// BenchmarkDecodeCRLF is the same stream with CRLF line ends (Gemini's).
func BenchmarkDecodeCRLF(b *testing.B) { benchDecode(b, benchEvent+"\r\n\r\n") }

// BenchmarkDecodeNamed is an Anthropic-shaped stream: named events.
func BenchmarkDecodeNamed(b *testing.B) {
	benchDecode(b, "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\" hello\"}}\n\n")
}

//go:build !bench_only || bench_floor

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// The floor: net/http, bufio and encoding/json, with the hand-written
// ChatAdapter prompt and parse. It is the limit a framework can approach.
func init() {
	register(contender{
		name: "floor",
		note: "net/http + bufio + encoding/json, hand-written ChatAdapter prompt and parse (in bench/)",
		setup: func(url string) (client, error) {
			return &floor{url: url + "/chat/completions", hc: sharedHTTPClient()}, nil
		},
	})
}

type floor struct {
	url string
	hc  *http.Client
}

type floorMsg struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

type floorReq struct {
	Model    string     `json:"model"`
	Messages []floorMsg `json:"messages"`
	Stream   bool       `json:"stream,omitempty"`
}

func (f *floor) do(ctx context.Context, q string, stream bool) (*http.Response, error) {
	body, err := json.Marshal(floorReq{Model: "bench-model", Stream: stream, Messages: []floorMsg{{"system", chatSystem}, {"user", chatUser(q)}}})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, "POST", f.url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer sk-bench")
	resp, err := f.hc.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return nil, fmt.Errorf("status %d: %s", resp.StatusCode, b)
	}
	return resp, nil
}

func (f *floor) call(ctx context.Context, q string) (string, error) {
	resp, err := f.do(ctx, q, false)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var out struct {
		Choices []struct {
			Message struct {
				Content string `json:"content"`
			} `json:"message"`
		} `json:"choices"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return "", err
	}
	if len(out.Choices) == 0 {
		return "", errors.New("no choices")
	}
	return parseAnswer(out.Choices[0].Message.Content)
}

func (f *floor) stream(ctx context.Context, q string, chunk func(string)) (string, error) {
	resp, err := f.do(ctx, q, true)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var all strings.Builder
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	var ev struct {
		Choices []struct {
			Delta struct {
				Content string `json:"content"`
			} `json:"delta"`
		} `json:"choices"`
	}
	for sc.Scan() {
		line := sc.Bytes()
		data, ok := bytes.CutPrefix(line, []byte("data: "))
		if !ok {
			continue
		}
		if string(data) == "[DONE]" {
			break
		}
		ev.Choices = ev.Choices[:0]
		if err := json.Unmarshal(data, &ev); err != nil {
			return "", err
		}
		if len(ev.Choices) > 0 && ev.Choices[0].Delta.Content != "" {
			c := ev.Choices[0].Delta.Content
			all.WriteString(c)
			chunk(c)
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	return parseAnswer(all.String())
}

package main

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// A contender does the workloads' work with its own idiomatic API.
type contender struct {
	name string
	// note says how it was configured, for the README.
	note string
	// fieldStream is true when its stream events are one output field's
	// text (a field listener), false when they are raw LM text chunks.
	fieldStream bool
	// setup builds the client for the API root url.
	setup func(url string) (client, error)
}

type client interface {
	// call answers question, blocking.
	call(ctx context.Context, question string) (string, error)
	// stream answers question, calling chunk for each text event as it is
	// delivered to the consumer.
	stream(ctx context.Context, question string, chunk func(string)) (string, error)
}

var contenders = map[string]contender{}

func register(c contender) { contenders[c.name] = c }

// contenderOrder is the table's row order.
var contenderOrder = []string{"floor", "godspy", "godspy-events", "godspy-otel", "godspy-otelsdk", "godspy-lm", "openai-go", "dspy-go", "langchaingo", "eino"}

func contenderNames() []string {
	var out []string
	for _, n := range contenderOrder {
		if _, ok := contenders[n]; ok {
			out = append(out, n)
		}
	}
	var rest []string
	for n := range contenders {
		found := false
		for _, m := range out {
			found = found || m == n
		}
		if !found {
			rest = append(rest, n)
		}
	}
	sort.Strings(rest)
	return append(out, rest...)
}

// sharedHTTPClient is the HTTP client given to every contender whose API
// takes one: the settings of godspy's default client (no per-host cap,
// 1,024 idle connections per host), so transports are alike.
func sharedHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 0
	t.MaxIdleConnsPerHost = 1024
	t.MaxConnsPerHost = 0
	t.IdleConnTimeout = 90 * time.Second
	return &http.Client{Transport: t}
}

// checkAnswer reports whether got is replyWords(id, words), without
// allocating (it runs inside the measured loop).
func checkAnswer(id int, words int, got string) error {
	if !matchReply(got, id, words) {
		return fmt.Errorf("answer %.60q, want %.60q", got, replyWords(id, words))
	}
	return nil
}

func matchReply(got string, id, words int) bool {
	rest, ok := strings.CutPrefix(got, "words:")
	if !ok {
		return false
	}
	var buf [40]byte
	for i := range words {
		b := append(buf[:0], " s"...)
		b = strconv.AppendInt(b, int64(id), 10)
		b = append(b, 'w')
		b = strconv.AppendInt(b, int64(i), 10)
		if !strings.HasPrefix(rest, string(b)) {
			return false
		}
		rest = rest[len(b):]
	}
	return rest == ""
}

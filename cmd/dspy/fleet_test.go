//go:build unix

package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/godspy/dspy/dspytest"
	"github.com/godspy/dspy/internal/redistest"
)

// readEventsN reads n events (comments skipped) with their ids.
func readEventsN(t *testing.T, br *bufio.Reader, n int) []sseEvent {
	t.Helper()
	var out []sseEvent
	var cur sseEvent
	seen := false
	for n < 0 || len(out) < n {
		line, err := br.ReadString('\n')
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "":
			if seen {
				out = append(out, cur)
				if cur.data == "[DONE]" {
					return out
				}
			}
			cur, seen = sseEvent{}, false
		case strings.HasPrefix(line, "id: "):
			cur.id, seen = line[4:], true
		case strings.HasPrefix(line, "event: "):
			cur.event, seen = line[7:], true
		case strings.HasPrefix(line, "data: "):
			cur.data, seen = line[6:], true
		}
	}
	return out
}

// TestServeFleet runs four `dspy serve --redis` processes on one Redis,
// on an OpenAI-compatible test server: a stream started on the first is
// resumed on the second and stopped from the third; four requests sent
// at once, one to each, are held to the fleet's --rpm quota.
func TestServeFleet(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	addr := redistest.Addr(t)
	var mu sync.Mutex
	var sends []time.Time
	lmSrv := dspytest.NewServer(dspytest.WithResponder(func(req *dspytest.ChatRequest) dspytest.Answer {
		mu.Lock()
		sends = append(sends, time.Now())
		mu.Unlock()
		if strings.Contains(req.Messages[len(req.Messages)-1].Content, "long") {
			return dspytest.Answer{Text: dspytest.ChatReply("answer", strings.Repeat("tide ", 3000))}
		}
		return dspytest.Answer{Text: dspytest.ChatReply("answer", "Short.")}
	}), dspytest.WithChunkBytes(5), dspytest.WithChunkDelay(2*time.Millisecond))
	defer lmSrv.Close()
	key := []string{"OPENAI_API_KEY=sk-fleettest"}
	var urls []string
	for range 4 {
		u, _, _ := startServe(t, key, "--lm", "openai/gpt-test", "--base-url", lmSrv.URL(), "--module", "predict",
			"--signature", "question -> answer", "--redis", "redis://"+addr+"/0", "--rpm", "120", "--cache", "off")
		urls = append(urls, u)
	}

	post := func(base, q string) *http.Response {
		t.Helper()
		res, err := http.Post(base+"/v1/stream", "application/json", strings.NewReader(`{"question": "`+q+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode != 200 {
			t.Fatalf("POST: %d", res.StatusCode)
		}
		return res
	}

	// Resume on B, stop from C.
	res := post(urls[0], "a long answer?")
	defer res.Body.Close()
	br := bufio.NewReader(res.Body)
	head := readEventsN(t, br, 4)
	id := res.Header.Get("X-Stream-Id")
	if len(head) != 4 || head[0].event != "stream" || id == "" {
		t.Fatalf("first events %+v, X-Stream-Id %q; want the stream event", head, id)
	}
	req, _ := http.NewRequest("GET", urls[1]+"/v1/stream/"+id, nil)
	req.Header.Set("Last-Event-ID", head[3].id)
	follow, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer follow.Body.Close()
	fr := bufio.NewReader(follow.Body)
	if got := readEventsN(t, fr, 1); follow.StatusCode != 200 || len(got) != 1 || got[0].id != "5" {
		t.Fatalf("resume on B after id %s: %d, %+v; want event 5", head[3].id, follow.StatusCode, got)
	}
	stop, err := http.Post(urls[2]+"/v1/stream/"+id+"/stop", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	stop.Body.Close()
	if stop.StatusCode != http.StatusAccepted {
		t.Fatalf("stop on C: %d, want 202", stop.StatusCode)
	}
	for who, r := range map[string]*bufio.Reader{"the client on A": br, "the follower on B": fr} {
		evs := readEventsN(t, r, -1)
		n := len(evs)
		if n < 2 || evs[n-2].event != "stopped" || evs[n-1].data != "[DONE]" {
			t.Errorf("%s: the stream ends %+v, want stopped, [DONE]", who, evs[max(0, n-2):])
		}
	}
	if !waitUntil(5*time.Second, func() bool { return lmSrv.Disconnects() == 1 }) {
		t.Errorf("the stopped run's LM request was not cancelled (disconnects %d)", lmSrv.Disconnects())
	}

	// The quota: 120 a minute is a burst of 2 and one request every
	// 0.51 s after it, for the fleet; four requests at once, one per
	// replica, are spread over more than a second. Replicas that each kept
	// their own limit would send them at once.
	mu.Lock()
	sends = nil
	mu.Unlock()
	var wg sync.WaitGroup
	for _, u := range urls {
		wg.Go(func() {
			res := post(u, "short?")
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
		})
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	slices.SortFunc(sends, func(a, b time.Time) int { return a.Compare(b) })
	if len(sends) != 4 {
		t.Fatalf("%d LM requests, want 4", len(sends))
	}
	if span := sends[3].Sub(sends[0]); span < 900*time.Millisecond {
		t.Errorf("4 requests to 4 replicas sharing --rpm 120 were sent within %v, want them spread over more than 0.9 s", span)
	} else {
		t.Logf("4 requests to 4 replicas sharing --rpm 120 were sent over %v", span)
	}
}

// waitUntil polls cond for up to d.
func waitUntil(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

// TestServeFleetFlags: the fleet flags' usage errors.
func TestServeFleetFlags(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--cache", "redis"}, "--cache redis needs --redis URL"},
		{[]string{"--cache", "disk"}, `unknown --cache "disk"`},
		{[]string{"--max-runs", "0"}, "--max-runs 0: at least 1"},
		{[]string{"--redis", "redis://:hunter2@127.0.0.1:1/0"}, "the server does not answer"},
		{[]string{"--redis", "mysql://x"}, "bad Redis URL"},
	} {
		var stdout, stderr strings.Builder
		code := run(context.Background(), append([]string{"serve", "--lm", "demo", "--addr", "127.0.0.1:0"}, tt.args...), &stdout, &stderr, noEnv)
		if code == exitOK || !strings.Contains(stderr.String(), tt.want) {
			t.Errorf("serve %v: exit %d, stderr %q; want a failure saying %q", tt.args, code, stderr.String(), tt.want)
		}
		if strings.Contains(stderr.String(), "hunter2") {
			t.Errorf("serve %v: the password is in the message: %s", tt.args, stderr.String())
		}
	}
}

package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRun(t *testing.T) {
	var out bytes.Buffer
	model := offlineLM()
	if err := run(context.Background(), &out, model); err != nil {
		t.Fatalf("run: %v", err)
	}
	if got, want := out.String(), "Jane Austen wrote Pride and Prejudice; it was published in 1813.\n"; got != want {
		t.Errorf("output = %q, want %q", got, want)
	}
	reqs := model.Requests()
	want := "[[ ## observation_0 ## ]]\n[1] «Pride and Prejudice is an 1813 novel of manners by Jane Austen.»\n[2] «Jane Austen (1775–1817) was an English novelist known for six major novels.»"
	if last := reqs[1].Messages[len(reqs[1].Messages)-1].Content; !strings.Contains(last, want) {
		t.Errorf("second prompt lacks the search results:\n%s", last)
	}
}

func TestSearchHonoursCtx(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	_, err := searchWeb(time.Hour)(ctx, searchArgs{Query: "austen"})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("search with an expiring ctx: error = %v, want context.DeadlineExceeded", err)
	}
}

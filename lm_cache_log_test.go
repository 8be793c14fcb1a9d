package dspy

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/godspy/dspy/dspytest"
	"github.com/godspy/dspy/lm/cache"
)

type downStore struct{}

func (downStore) Get(context.Context, string) ([]byte, bool, error) {
	return nil, false, errors.New("store is down")
}
func (downStore) Set(context.Context, string, []byte) error { return errors.New("store is down") }

// TestNewLMLogsCacheFailuresToSettingsLogger: NewLM's cache logs a store
// failure to the logger of the settings in the call's context.
func TestNewLMLogsCacheFailuresToSettingsLogger(t *testing.T) {
	clearLMEnv(t)
	srv := dspytest.NewServer()
	defer srv.Close()
	m, err := NewLM("openai/m", WithBaseURL(srv.URL()), WithAPIKey("sk-a"), WithCache(downStore{}))
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	ctx := WithSettings(t.Context(), WithLogger(slog.New(slog.NewTextHandler(&logs, nil)).With("svc", "test")))
	if _, err := m.Generate(ctx, hiRequest()); err != nil {
		t.Fatalf("a cache failure failed the call: %v", err)
	}
	out := logs.String()
	if strings.Count(out, "\n") != 1 || !strings.Contains(out, "cache: store failed") || !strings.Contains(out, "store is down") || !strings.Contains(out, "svc=test") {
		t.Errorf("settings logger got %q, want one line about the store failure", out)
	}
	c, _ := findLM[*cache.LM](m)
	if st := c.Stats(); st.Errors != 2 || st.Misses != 1 {
		t.Errorf("Stats = %+v, want 2 errors (read, write), 1 miss", st)
	}
}

func TestSettingsHandlerAttrsAndGroups(t *testing.T) {
	var logs bytes.Buffer
	ctx := WithSettings(t.Context(), WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	slog.New(settingsHandler{}).With("a", 1).WithGroup("g").InfoContext(ctx, "hi", "x", 2)
	if got := logs.String(); !strings.Contains(got, `msg=hi a=1 g.x=2`) {
		t.Errorf("logged %q, want msg=hi a=1 g.x=2", got)
	}
}

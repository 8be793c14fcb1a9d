package main

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestCalculatorTool(t *testing.T) {
	tools, err := parseTools("calculator", time.Now)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	got, err := tools[0].Call(ctx, map[string]any{"expression": "(17 + 25) * 3"})
	if err != nil || got != "126" {
		t.Errorf(`calculator("(17 + 25) * 3") = %v, %v; want "126"`, got, err)
	}
	for _, bad := range []string{"__import__('os')", "1 / 0", "2 +"} {
		if _, err := tools[0].Call(ctx, map[string]any{"expression": bad}); err == nil {
			t.Errorf("calculator(%q) succeeded, want an error", bad)
		}
	}
}

func TestClockTool(t *testing.T) {
	now := func() time.Time { return time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC) }
	tools, err := parseTools("clock, clock", now)
	if err != nil || len(tools) != 1 {
		t.Fatalf("parseTools = %d tools, %v; want 1", len(tools), err)
	}
	ctx := context.Background()
	if got, err := tools[0].Call(ctx, map[string]any{}); err != nil || got != "Saturday, 14 March 2026, 15:09:26 UTC" {
		t.Errorf("clock() = %v, %v", got, err)
	}
	if got, err := tools[0].Call(ctx, map[string]any{"timezone": "Asia/Tokyo"}); err != nil || !strings.HasPrefix(got.(string), "Sunday, 15 March 2026, 00:09:26") {
		t.Errorf("clock(Asia/Tokyo) = %v, %v", got, err)
	}
	if _, err := tools[0].Call(ctx, map[string]any{"timezone": "Mars/Olympus"}); err == nil || !strings.Contains(err.Error(), `unknown time zone "Mars/Olympus"`) {
		t.Errorf("clock(Mars/Olympus) error = %v, want one naming the zone", err)
	}
}

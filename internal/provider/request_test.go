package provider

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestEncode(t *testing.T) {
	type wire struct {
		Model  string `json:"model"`
		Stream bool   `json:"stream,omitempty"`
	}
	tests := []struct {
		name  string
		extra map[string]any
		want  string
	}{
		{"no extra", nil, `{"model":"m","stream":true}`},
		{"extra wins over a client field", map[string]any{"model": "x", "reasoning_effort": "low"}, `{"model":"x","reasoning_effort":"low","stream":true}`},
		{"reserved keys are kept", map[string]any{"stream": false, "stream_options": nil}, `{"model":"m","stream":true}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := Encode("p", &wire{Model: "m", Stream: true}, tt.extra, "stream", "stream_options")
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, string(b)); diff != "" {
				t.Errorf("-want +got\n%s", diff)
			}
		})
	}
	_, err := Encode("p", &wire{}, map[string]any{"bad": make(chan int)})
	var ute *json.UnsupportedTypeError
	if !errors.As(err, &ute) {
		t.Errorf("Encode(chan) = %v, want an encoding error", err)
	}
}

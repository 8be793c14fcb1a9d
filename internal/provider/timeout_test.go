package provider

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// Bound adds a context of its own only when its bound can end the call
// first: a call waiting on a provider under a sooner caller deadline holds
// no timer and no child context for nothing.
func TestBoundContext(t *testing.T) {
	soon, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tests := []struct {
		name    string
		ctx     context.Context
		d       time.Duration
		ownCtx  bool
		wantErr string
	}{
		{"no bound", context.Background(), 0, false, ""},
		{"no caller deadline", context.Background(), time.Hour, true, ""},
		{"caller deadline sooner", soon, time.Hour, false, ""},
		{"bound sooner", soon, time.Millisecond, true, "p: no reply within 1ms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Bound(tt.ctx, "p", tt.d, func(ctx context.Context) error {
				if own := ctx != tt.ctx; own != tt.ownCtx {
					t.Errorf("call got a context of its own: %v, want %v", own, tt.ownCtx)
				}
				if tt.wantErr == "" {
					return nil
				}
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(10 * time.Second):
					return errors.New("the bound did not end the call within 10s")
				}
			})
			if got := errString(err); !strings.HasPrefix(got, tt.wantErr) || (tt.wantErr == "") != (err == nil) {
				t.Errorf("Bound: %q, want prefix %q", got, tt.wantErr)
			}
			if tt.wantErr != "" && !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Bound: %v does not match context.DeadlineExceeded", err)
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRun(t *testing.T) {
	var out bytes.Buffer
	model := offlineLM()
	if err := run(context.Background(), &out, model); err != nil {
		t.Fatalf("run: %v", err)
	}
	if got, want := out.String(), "352\n"; got != want {
		t.Errorf("output = %q, want %q", got, want)
	}
	reqs := model.Requests()
	if last := reqs[1].Messages[len(reqs[1].Messages)-1].Content; !strings.Contains(last, "[[ ## observation_0 ## ]]\n352") {
		t.Errorf("second prompt lacks the calculator's result:\n%s", last)
	}
}

func TestCalculate(t *testing.T) {
	tests := []struct {
		expr, want, wantErr string
	}{
		{"15 * 23 + 7", "352", ""},
		{"(2 + 3) ^ 2 / 10", "2.5", ""},
		{"__import__('os').system('ls')", "", `calc: unexpected "_" at offset 0`},
		{"1 / 0", "", "calc: division by zero at offset 2"},
		{"-2^2", "-4", ""}, // as in Python, the power binds tighter than the sign
		{"2^3^2", "512", ""},
		{"2^-1 - -.5", "1", ""},
		{"((1+2)*(3+4))", "21", ""},
		{"", "", "calc: unexpected end of expression at offset 0"},
		{"(1 + 2", "", "calc: missing ) at offset 6"},
		{"1 2", "", `calc: unexpected "2" at offset 2`},
		{"1.2.3", "", `calc: malformed number "1.2.3" at offset 0`},
		{"10^400", "", "calc: result is not a finite number"},
		{strings.Repeat("(", 100) + "1" + strings.Repeat(")", 100), "", "calc: nesting deeper than 64"},
	}
	for _, tc := range tests {
		got, err := calculate(calculateArgs{Expression: tc.expr})
		if got != tc.want || (err == nil) != (tc.wantErr == "") || (err != nil && !strings.HasPrefix(err.Error(), tc.wantErr)) {
			t.Errorf("calculate(%q) = %q, %v; want %q, %q", tc.expr, got, err, tc.want, tc.wantErr)
		}
	}
}

package calc

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func TestEval(t *testing.T) {
	tests := []struct {
		expr string
		want float64
	}{
		{"15 * 23 + 7", 352},
		{"1 + 2 * 3", 7},
		{"(1 + 2) * 3", 9},
		{"10 / 4", 2.5},
		{"2 ^ 10", 1024},
		{"2 ** 10", 1024},
		{"2^3^2", 512},
		{"-2^2", -4},
		{"(-2)^2", 4},
		{"2^-1", 0.5},
		{"--3", 3},
		{"+3 - -3", 6},
		{"1e3 + .5", 1000.5},
		{"1.5E-1 * 2", 0.3},
		{" 7 ", 7},
		{"8 - 3 - 2", 3},
		{"64 / 4 / 2", 8},
		{"0.1 + 0.2", 0.30000000000000004},
	}
	for _, tc := range tests {
		got, err := Eval(tc.expr)
		if err != nil || got != tc.want {
			t.Errorf("Eval(%q) = %v, %v; want %v, nil", tc.expr, got, err, tc.want)
		}
	}
}

func TestEvalErrors(t *testing.T) {
	tests := []struct {
		expr string
		want string
	}{
		{"", `calc: unexpected end of expression at offset 0 in ""`},
		{"1 +", `calc: unexpected end of expression at offset 3 in "1 +"`},
		{"1 / 0", `calc: division by zero at offset 2 in "1 / 0"`},
		{"1 / (2 - 2)", `calc: division by zero at offset 2 in "1 / (2 - 2)"`},
		{"0 ^ -1", `calc: division by zero at offset 2 in "0 ^ -1"`},
		{"(-8) ^ 0.5", `calc: fractional power of a negative number at offset 5 in "(-8) ^ 0.5"`},
		{"10 ^ 400", `calc: result is not a finite number at offset 3 in "10 ^ 400"`},
		{"(1 + 2", `calc: unclosed parenthesis at offset 0 in "(1 + 2"`},
		{"1 + 2)", `calc: unexpected ")" at offset 5 in "1 + 2)"`},
		{"__import__('os')", `calc: unexpected "_" at offset 0 in "__import__('os')"`},
		{"2 x 3", `calc: unexpected "x" at offset 2 in "2 x 3"`},
		{"1..2", `calc: unexpected "." at offset 2 in "1..2"`},
		{".", `calc: malformed number at offset 0 in "."`},
		{"2e", `calc: unexpected "e" at offset 1 in "2e"`},
		{"1e999", `calc: number out of range at offset 0 in "1e999"`},
		{strings.Repeat("(", 100) + "1" + strings.Repeat(")", 100), "calc: nesting deeper than 64 at offset 65 in"},
		{strings.Repeat("-", 100) + "1", "calc: nesting deeper than 64 at offset 65 in"},
		{strings.Repeat("1+", 3000) + "1", "calc: expression longer than 4096 bytes at offset 4096 in"},
	}
	for _, tc := range tests {
		_, err := Eval(tc.expr)
		var ce *Error
		if !errors.As(err, &ce) {
			t.Errorf("Eval(%q) error = %v, want an *Error", tc.expr, err)
			continue
		}
		if !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("Eval(%q) error =\n%s\nwant\n%s", tc.expr, err, tc.want)
		}
	}
}

func TestFormat(t *testing.T) {
	tests := map[float64]string{352: "352", -4: "-4", 2.5: "2.5", 0.30000000000000004: "0.30000000000000004", 1e20: "1e+20", 0: "0"}
	for v, want := range tests {
		if got := Format(v); got != want {
			t.Errorf("Format(%v) = %q, want %q", v, got, want)
		}
	}
}

// FuzzCalc checks that no input panics or overflows the stack, that every
// error is an *Error with an offset inside the input, and that results are
// finite.
func FuzzCalc(f *testing.F) {
	for _, s := range []string{"15 * 23 + 7", "2^3^2", "-(1.5e3 / (2 - 4)) ** 2", "1/0", "((((1))))", "2e", ".5", "1 + + 2", ")("} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := Eval(s)
		if err != nil {
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("Eval(%q) error %v is not an *Error", s, err)
			}
			if ce.Pos < 0 || ce.Pos > len(s) {
				t.Fatalf("Eval(%q) error offset %d outside the input", s, ce.Pos)
			}
			return
		}
		if math.IsInf(v, 0) || math.IsNaN(v) {
			t.Fatalf("Eval(%q) = %v, not finite", s, v)
		}
		// An expression in parentheses means the same.
		if len(s) < MaxLen-2 {
			w, err := Eval("(" + s + ")")
			if err == nil && w != v {
				t.Fatalf("Eval((%s)) = %v, Eval(%s) = %v", s, w, s, v)
			}
		}
	})
}

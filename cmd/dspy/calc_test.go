package main

import (
	"errors"
	"strings"
	"testing"
)

func TestEvaluate(t *testing.T) {
	for _, tc := range []struct {
		expr string
		want float64
	}{
		{"2+2", 4},
		{" 1 + 2 * 3 ", 7},
		{"(1 + 2) * 3", 9},
		{"10 / 4", 2.5},
		{"10 % 4", 2},
		{"2 ^ 3 ^ 2", 512},
		{"-2 ^ 2", -4},
		{"(-2) ^ 2", 4},
		{"--3", 3},
		{"2 * -3", -6},
		{"1.5e3 + .5", 1500.5},
		{"1_000 * 2", 2000},
		{"sqrt(16) + abs(-2)", 6},
		{"round(2.5) + floor(1.9) + ceil(1.1)", 6},
		{"(17 + 25) * 3", 126},
		{"2^-1", 0.5},
	} {
		got, err := Evaluate(tc.expr)
		if err != nil || got != tc.want {
			t.Errorf("Evaluate(%q) = %v, %v; want %v", tc.expr, got, err, tc.want)
		}
	}
}

func TestEvaluateErrors(t *testing.T) {
	for _, tc := range []struct{ expr, want string }{
		{"", "ends where a number was expected"},
		{"1 +", "ends where a number was expected"},
		{"1 / 0", "division by zero"},
		{"5 % 0", "division by zero"},
		{"(1 + 2", "missing closing parenthesis"},
		{"1 + 2)", `unexpected ")"`},
		{"import os", `unknown name "import"`},
		{"exec(1)", `unknown name "exec"`},
		{"sqrt 4", "sqrt must be followed by '('"},
		{"sqrt(-1)", "square root of a negative number"},
		{"2 $ 3", `unexpected "$"`},
		{"10 ^ 400", "no finite value"},
		{strings.Repeat("(", 100) + "1" + strings.Repeat(")", 100), "nested more than 64 levels"},
		{strings.Repeat("-", 100) + "1", "nested more than 64 levels"},
		{strings.Repeat("1+", 300) + "1", "over the limit of 500"},
	} {
		_, err := Evaluate(tc.expr)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, errCalc) {
			t.Errorf("Evaluate(%.40q) error = %v, want one containing %q", tc.expr, err, tc.want)
		}
	}
}

func TestFormatNumber(t *testing.T) {
	for v, want := range map[float64]string{126: "126", -4: "-4", 0.5: "0.5", 1.0 / 3: "0.3333333333", 1e20: "1e+20"} {
		if got := FormatNumber(v); got != want {
			t.Errorf("FormatNumber(%v) = %q, want %q", v, got, want)
		}
	}
}

// FuzzEvaluate: the calculator reads text an LM wrote; it must never
// panic, and every failure is an errCalc.
func FuzzEvaluate(f *testing.F) {
	for _, s := range []string{"1+2*3", "(1", "2^3^2", "sqrt(2)", "-(-(-1))", "1e308*10", "..1", "1__0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		if _, err := Evaluate(expr); err != nil && !errors.Is(err, errCalc) {
			t.Fatalf("Evaluate(%q) error %v is not an errCalc", expr, err)
		}
	})
}

package main

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Limits of the calculator: an LM writes the expressions, so they are
// untrusted input and their size and nesting are bounded.
const (
	maxExprLen   = 500
	maxExprDepth = 64
)

// errCalc is wrapped by every calculator error.
var errCalc = errors.New("calculator")

// Evaluate computes an arithmetic expression: numbers (with decimals and
// exponents), + - * / % ^ (power, right-associative), unary minus,
// parentheses and the functions sqrt, abs, round, floor and ceil. It is a
// recursive-descent parser over the expression's bytes: nothing is ever
// executed, so it is safe on text an LM wrote.
func Evaluate(expr string) (float64, error) {
	if len(expr) > maxExprLen {
		return 0, fmt.Errorf("%w: expression is %d bytes, over the limit of %d", errCalc, len(expr), maxExprLen)
	}
	p := &calcParser{src: expr}
	v, err := p.expr()
	if err != nil {
		return 0, err
	}
	p.space()
	if p.pos < len(p.src) {
		return 0, p.errorf("unexpected %q", p.src[p.pos:p.pos+1])
	}
	if math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, fmt.Errorf("%w: %q has no finite value", errCalc, expr)
	}
	return v, nil
}

// FormatNumber writes a result the way a person would: integers without a
// decimal point, other values with up to 10 significant digits.
func FormatNumber(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'g', 10, 64)
}

type calcParser struct {
	src   string
	pos   int
	depth int
}

func (p *calcParser) errorf(format string, args ...any) error {
	return fmt.Errorf("%w: at byte %d of %q: %s", errCalc, p.pos, p.src, fmt.Sprintf(format, args...))
}

func (p *calcParser) space() {
	for p.pos < len(p.src) && (p.src[p.pos] == ' ' || p.src[p.pos] == '\t' || p.src[p.pos] == '\n') {
		p.pos++
	}
}

// peek returns the next non-space byte, or 0 at the end.
func (p *calcParser) peek() byte {
	p.space()
	if p.pos < len(p.src) {
		return p.src[p.pos]
	}
	return 0
}

// expr := term (('+' | '-') term)*
func (p *calcParser) expr() (float64, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxExprDepth {
		return 0, p.errorf("nested more than %d levels deep", maxExprDepth)
	}
	v, err := p.term()
	for err == nil {
		op := p.peek()
		if op != '+' && op != '-' {
			break
		}
		p.pos++
		var r float64
		if r, err = p.term(); err == nil {
			if op == '+' {
				v += r
			} else {
				v -= r
			}
		}
	}
	return v, err
}

// term := unary (('*' | '/' | '%') unary)*
func (p *calcParser) term() (float64, error) {
	v, err := p.unary()
	for err == nil {
		op := p.peek()
		if op != '*' && op != '/' && op != '%' {
			break
		}
		p.pos++
		var r float64
		if r, err = p.unary(); err != nil {
			break
		}
		switch {
		case op == '*':
			v *= r
		case r == 0:
			return 0, p.errorf("division by zero")
		case op == '/':
			v /= r
		default:
			v = math.Mod(v, r)
		}
	}
	return v, err
}

// unary := ('-' | '+') unary | power
func (p *calcParser) unary() (float64, error) {
	switch p.peek() {
	case '-', '+':
		neg := p.src[p.pos] == '-'
		p.pos++
		p.depth++
		defer func() { p.depth-- }()
		if p.depth > maxExprDepth {
			return 0, p.errorf("nested more than %d levels deep", maxExprDepth)
		}
		v, err := p.unary()
		if neg {
			v = -v
		}
		return v, err
	}
	return p.power()
}

// power := primary ('^' unary)?   (right-associative: 2^3^2 = 2^9)
func (p *calcParser) power() (float64, error) {
	base, err := p.primary()
	if err != nil || p.peek() != '^' {
		return base, err
	}
	p.pos++
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxExprDepth {
		return 0, p.errorf("nested more than %d levels deep", maxExprDepth)
	}
	exp, err := p.unary()
	if err != nil {
		return 0, err
	}
	return math.Pow(base, exp), nil
}

// calcFuncs are the functions primary accepts.
var calcFuncs = map[string]func(float64) (float64, error){
	"sqrt": func(x float64) (float64, error) {
		if x < 0 {
			return 0, errors.New("square root of a negative number")
		}
		return math.Sqrt(x), nil
	},
	"abs":   func(x float64) (float64, error) { return math.Abs(x), nil },
	"round": func(x float64) (float64, error) { return math.Round(x), nil },
	"floor": func(x float64) (float64, error) { return math.Floor(x), nil },
	"ceil":  func(x float64) (float64, error) { return math.Ceil(x), nil },
}

// primary := number | '(' expr ')' | name '(' expr ')'
func (p *calcParser) primary() (float64, error) {
	c := p.peek()
	switch {
	case c == 0:
		return 0, p.errorf("expression ends where a number was expected")
	case c == '(':
		p.pos++
		v, err := p.expr()
		if err != nil {
			return 0, err
		}
		if p.peek() != ')' {
			return 0, p.errorf("missing closing parenthesis")
		}
		p.pos++
		return v, nil
	case c >= '0' && c <= '9' || c == '.':
		return p.number()
	case c >= 'a' && c <= 'z':
		return p.call()
	}
	return 0, p.errorf("unexpected %q", string(c))
}

func (p *calcParser) number() (float64, error) {
	start := p.pos
	digits := func() {
		for p.pos < len(p.src) && (p.src[p.pos] >= '0' && p.src[p.pos] <= '9' || p.src[p.pos] == '_') {
			p.pos++
		}
	}
	digits()
	if p.pos < len(p.src) && p.src[p.pos] == '.' {
		p.pos++
		digits()
	}
	if p.pos < len(p.src) && (p.src[p.pos] == 'e' || p.src[p.pos] == 'E') {
		p.pos++
		if p.pos < len(p.src) && (p.src[p.pos] == '+' || p.src[p.pos] == '-') {
			p.pos++
		}
		digits()
	}
	text := strings.ReplaceAll(p.src[start:p.pos], "_", "")
	v, err := strconv.ParseFloat(text, 64)
	if err != nil {
		p.pos = start
		return 0, p.errorf("%q is not a number", p.src[start:start+len(text)])
	}
	return v, nil
}

func (p *calcParser) call() (float64, error) {
	start := p.pos
	for p.pos < len(p.src) && p.src[p.pos] >= 'a' && p.src[p.pos] <= 'z' {
		p.pos++
	}
	name := p.src[start:p.pos]
	f, ok := calcFuncs[name]
	if !ok {
		p.pos = start
		return 0, p.errorf("unknown name %q (functions: abs, ceil, floor, round, sqrt)", name)
	}
	if p.peek() != '(' {
		return 0, p.errorf("%s must be followed by '('", name)
	}
	v, err := p.primary()
	if err != nil {
		return 0, err
	}
	r, err := f(v)
	if err != nil {
		return 0, p.errorf("%s: %v", name, err)
	}
	return r, nil
}

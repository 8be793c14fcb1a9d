// Package calc evaluates arithmetic expressions safely: a small
// recursive-descent parser over numbers, + - * / ^ (or **), unary signs and
// parentheses. Nothing is ever executed as code, the input length and the
// nesting depth are bounded, and every failure is an *Error naming the
// offset, so text written by an LM can be given to it directly.
package calc

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// MaxLen is the longest expression Eval accepts, in bytes.
const MaxLen = 4096

// MaxDepth bounds the nesting of parentheses and signs, so hostile input
// cannot exhaust the stack.
const MaxDepth = 64

// Error reports an expression that cannot be evaluated. Pos is the byte
// offset where the problem was found.
type Error struct {
	Expr string
	Pos  int
	Msg  string
}

func (e *Error) Error() string {
	return fmt.Sprintf("calc: %s at offset %d in %q", e.Msg, e.Pos, e.Expr)
}

// Eval evaluates expr. The grammar, loosest binding first:
//
//	expr   = term { ("+" | "-") term }
//	term   = unary { ("*" | "/") unary }
//	unary  = ("+" | "-") unary | power
//	power  = atom [ ("^" | "**") unary ]     right-associative: 2^3^2 = 2^9
//	atom   = number | "(" expr ")"
//	number = digits [ "." digits ] [ ("e" | "E") [sign] digits ]
//
// As in Python, -2^2 is -4. Division by zero and results that are not
// finite numbers are errors.
func Eval(expr string) (float64, error) {
	p := &parser{src: expr}
	if len(expr) > MaxLen {
		return 0, p.fail(MaxLen, fmt.Sprintf("expression longer than %d bytes", MaxLen))
	}
	v, err := p.expr(0)
	if err != nil {
		return 0, err
	}
	p.skipSpace()
	if p.pos < len(p.src) {
		return 0, p.fail(p.pos, fmt.Sprintf("unexpected %q", p.src[p.pos:p.pos+1]))
	}
	return v, nil
}

// Format writes a result as Python's str() would for an int or float:
// integral values in range without a fraction ("352"), others in shortest
// form ("0.5", "1e+20").
func Format(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

type parser struct {
	src string
	pos int
}

func (p *parser) fail(pos int, msg string) error {
	return &Error{Expr: p.src, Pos: pos, Msg: msg}
}

func (p *parser) skipSpace() {
	for p.pos < len(p.src) && strings.IndexByte(" \t\r\n", p.src[p.pos]) >= 0 {
		p.pos++
	}
}

// peek returns the next non-space byte, or 0 at the end.
func (p *parser) peek() byte {
	p.skipSpace()
	if p.pos < len(p.src) {
		return p.src[p.pos]
	}
	return 0
}

func (p *parser) finite(v float64, at int) (float64, error) {
	if math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, p.fail(at, "result is not a finite number")
	}
	return v, nil
}

func (p *parser) expr(depth int) (float64, error) {
	v, err := p.term(depth)
	if err != nil {
		return 0, err
	}
	for {
		op := p.peek()
		if op != '+' && op != '-' {
			return v, nil
		}
		at := p.pos
		p.pos++
		r, err := p.term(depth)
		if err != nil {
			return 0, err
		}
		if op == '+' {
			v += r
		} else {
			v -= r
		}
		if v, err = p.finite(v, at); err != nil {
			return 0, err
		}
	}
}

func (p *parser) term(depth int) (float64, error) {
	v, err := p.unary(depth)
	if err != nil {
		return 0, err
	}
	for {
		op := p.peek()
		if op != '*' && op != '/' || strings.HasPrefix(p.src[p.pos:], "**") {
			return v, nil
		}
		at := p.pos
		p.pos++
		r, err := p.unary(depth)
		if err != nil {
			return 0, err
		}
		if op == '*' {
			v *= r
		} else {
			if r == 0 {
				return 0, p.fail(at, "division by zero")
			}
			v /= r
		}
		if v, err = p.finite(v, at); err != nil {
			return 0, err
		}
	}
}

func (p *parser) unary(depth int) (float64, error) {
	if depth > MaxDepth {
		return 0, p.fail(p.pos, fmt.Sprintf("nesting deeper than %d", MaxDepth))
	}
	switch p.peek() {
	case '-':
		p.pos++
		v, err := p.unary(depth + 1)
		return -v, err
	case '+':
		p.pos++
		return p.unary(depth + 1)
	}
	return p.power(depth)
}

func (p *parser) power(depth int) (float64, error) {
	base, err := p.atom(depth)
	if err != nil {
		return 0, err
	}
	switch p.peek() {
	case '^':
		p.pos++
	case '*':
		if !strings.HasPrefix(p.src[p.pos:], "**") {
			return base, nil
		}
		p.pos += 2
	default:
		return base, nil
	}
	at := p.pos - 1
	exp, err := p.unary(depth + 1)
	if err != nil {
		return 0, err
	}
	if base == 0 && exp < 0 {
		return 0, p.fail(at, "division by zero")
	}
	if base < 0 && exp != math.Trunc(exp) {
		return 0, p.fail(at, "fractional power of a negative number")
	}
	return p.finite(math.Pow(base, exp), at)
}

func (p *parser) atom(depth int) (float64, error) {
	c := p.peek()
	switch {
	case c == '(':
		open := p.pos
		p.pos++
		v, err := p.expr(depth + 1)
		if err != nil {
			return 0, err
		}
		if p.peek() != ')' {
			return 0, p.fail(open, "unclosed parenthesis")
		}
		p.pos++
		return v, nil
	case c >= '0' && c <= '9' || c == '.':
		return p.number()
	case c == 0:
		return 0, p.fail(p.pos, "unexpected end of expression")
	}
	return 0, p.fail(p.pos, fmt.Sprintf("unexpected %q", p.src[p.pos:p.pos+1]))
}

func (p *parser) number() (float64, error) {
	start := p.pos
	digits := func() int {
		n := 0
		for p.pos < len(p.src) && p.src[p.pos] >= '0' && p.src[p.pos] <= '9' {
			p.pos++
			n++
		}
		return n
	}
	n := digits()
	if p.pos < len(p.src) && p.src[p.pos] == '.' {
		p.pos++
		n += digits()
	}
	if n == 0 {
		return 0, p.fail(start, "malformed number")
	}
	if p.pos < len(p.src) && (p.src[p.pos] == 'e' || p.src[p.pos] == 'E') {
		save := p.pos
		p.pos++
		if p.pos < len(p.src) && (p.src[p.pos] == '+' || p.src[p.pos] == '-') {
			p.pos++
		}
		if digits() == 0 {
			p.pos = save // "2e" is 2 followed by junk, reported by the caller
		}
	}
	v, err := strconv.ParseFloat(p.src[start:p.pos], 64)
	if err != nil {
		return 0, p.fail(start, "number out of range")
	}
	return v, nil
}

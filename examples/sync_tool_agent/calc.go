package main

import (
	"fmt"
	"math"
	"strconv"
)

// eval evaluates an arithmetic expression written by the LM: numbers,
// + - * / ^ (power, binding tightest), unary signs and parentheses. It is a
// parser, never Python's eval: nothing in the text is run as code, and the
// nesting depth is bounded so hostile input cannot exhaust the stack.
func eval(expr string) (float64, error) {
	p := &calcParser{src: expr}
	v, err := p.sum(0)
	switch {
	case err != nil:
		return 0, err
	case p.peek() != 0:
		return 0, p.fail("unexpected %q", p.src[p.pos:p.pos+1])
	case math.IsInf(v, 0) || math.IsNaN(v):
		return 0, p.fail("result is not a finite number")
	}
	return v, nil
}

// formatNumber writes a result as Python's str() would: "352", "2.5".
func formatNumber(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

const maxDepth = 64

type calcParser struct {
	src string
	pos int
}

func (p *calcParser) fail(format string, args ...any) error {
	return fmt.Errorf("calc: %s at offset %d in %q", fmt.Sprintf(format, args...), p.pos, p.src)
}

// peek skips spaces and returns the next byte, or 0 at the end.
func (p *calcParser) peek() byte {
	for p.pos < len(p.src) && p.src[p.pos] == ' ' {
		p.pos++
	}
	if p.pos == len(p.src) {
		return 0
	}
	return p.src[p.pos]
}

// sum = product { ("+" | "-") product }
func (p *calcParser) sum(depth int) (float64, error) {
	v, err := p.product(depth)
	for err == nil && (p.peek() == '+' || p.peek() == '-') {
		op := p.src[p.pos]
		p.pos++
		var r float64
		if r, err = p.product(depth); op == '+' {
			v += r
		} else {
			v -= r
		}
	}
	return v, err
}

// product = unary { ("*" | "/") unary }
func (p *calcParser) product(depth int) (float64, error) {
	v, err := p.unary(depth)
	for err == nil && (p.peek() == '*' || p.peek() == '/') {
		op, at := p.src[p.pos], p.pos
		p.pos++
		var r float64
		if r, err = p.unary(depth); err != nil {
			break
		}
		if op == '*' {
			v *= r
		} else if r == 0 {
			p.pos = at
			return 0, p.fail("division by zero")
		} else {
			v /= r
		}
	}
	return v, err
}

// unary = ("+" | "-") unary | atom [ "^" unary ]
func (p *calcParser) unary(depth int) (float64, error) {
	if depth > maxDepth {
		return 0, p.fail("nesting deeper than %d", maxDepth)
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
	base, err := p.atom(depth)
	if err != nil || p.peek() != '^' {
		return base, err
	}
	p.pos++
	exp, err := p.unary(depth + 1)
	return math.Pow(base, exp), err
}

// atom = number | "(" sum ")"
func (p *calcParser) atom(depth int) (float64, error) {
	switch c := p.peek(); {
	case c == '(':
		p.pos++
		v, err := p.sum(depth + 1)
		if err == nil && p.peek() != ')' {
			err = p.fail("missing )")
		}
		p.pos++
		return v, err
	case c >= '0' && c <= '9' || c == '.':
		start := p.pos
		for p.pos < len(p.src) && (p.src[p.pos] >= '0' && p.src[p.pos] <= '9' || p.src[p.pos] == '.') {
			p.pos++
		}
		num := p.src[start:p.pos]
		v, err := strconv.ParseFloat(num, 64)
		if err != nil {
			p.pos = start
			return 0, p.fail("malformed number %q", num)
		}
		return v, nil
	case c == 0:
		return 0, p.fail("unexpected end of expression")
	default:
		return 0, p.fail("unexpected %q", p.src[p.pos:p.pos+1])
	}
}

package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/godspy/dspy"
	"github.com/godspy/dspy/internal/calc"
)

// toolNames lists the built-in tools --tools accepts, in help order.
var toolNames = []string{"calculator", "clock"}

type calculatorArgs struct {
	Expression string `json:"expression" desc:"an arithmetic expression, e.g. (3 + 4) * 2 ^ 3 / 4"`
}

// calculatorTool evaluates arithmetic with internal/calc: a parser, never
// eval, so an LM's text is safe to give it.
func calculatorTool() *dspy.Tool {
	return dspy.NewTool("calculator",
		"Evaluate an arithmetic expression: numbers, + - * / ^ (power) and parentheses.",
		func(_ context.Context, a calculatorArgs) (string, error) {
			v, err := calc.Eval(a.Expression)
			if err != nil {
				return "", err
			}
			return calc.Format(v), nil
		})
}

type clockArgs struct {
	Timezone *string `json:"timezone" desc:"an IANA time zone such as Europe/Paris; default the local zone"`
}

// clockTool tells the current date and time; now is injectable for tests.
func clockTool(now func() time.Time) *dspy.Tool {
	return dspy.NewTool("clock",
		"Get the current date, time and weekday, optionally in an IANA time zone.",
		func(_ context.Context, a clockArgs) (string, error) {
			t := now()
			if a.Timezone != nil && *a.Timezone != "" {
				loc, err := time.LoadLocation(*a.Timezone)
				if err != nil {
					return "", fmt.Errorf("unknown time zone %q", *a.Timezone)
				}
				t = t.In(loc)
			}
			return t.Format("Monday, 2 January 2006, 15:04:05 MST"), nil
		})
}

// parseTools turns "calculator,clock" into tools. An unknown name is an
// error that lists the known ones.
func parseTools(list string, now func() time.Time) ([]*dspy.Tool, error) {
	var tools []*dspy.Tool
	seen := map[string]bool{}
	for name := range strings.SplitSeq(list, ",") {
		name = strings.TrimSpace(name)
		if name == "" || seen[name] {
			continue
		}
		seen[name] = true
		switch name {
		case "calculator":
			tools = append(tools, calculatorTool())
		case "clock":
			tools = append(tools, clockTool(now))
		default:
			return nil, fmt.Errorf("unknown tool %q in --tools (allowed: %s)", name, strings.Join(toolNames, ", "))
		}
	}
	slices.SortStableFunc(tools, func(a, b *dspy.Tool) int { return strings.Compare(a.Name(), b.Name()) })
	return tools, nil
}

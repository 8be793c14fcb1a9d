//go:build !bench_only || bench_godspy || bench_godspyotel

package main

import "github.com/godspy/dspy/streaming"

// withoutListener is the same predictor streamified without listeners: the
// LM's raw chunks pass through (Mstream).
func (g *godspy) withoutListener() (client, error) {
	prog, err := streaming.Streamify(g.predict)
	if err != nil {
		return nil, err
	}
	return &godspy{predict: g.predict, prog: prog}, nil
}

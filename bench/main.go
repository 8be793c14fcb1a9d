// Command bench measures godspy against a minimal hand-written client (the
// floor), the bare openai-go SDK and the Go peers (dspy-go, langchaingo,
// eino) on one local OpenAI-compatible server (dspytest.NewServer), and
// writes the README's table and plot. See README.md.
//
//	go run . all          # every workload, every contender, ≥5 runs; table + plot
//	go run . all -quick   # one short run of each, to check the setup
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: bench all [-quick] | serve-lm [flags] | run [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "serve-lm":
		err = serveLM(os.Args[2:])
	case "run":
		err = runClient(os.Args[2:])
	case "serve-w5":
		err = serveW5(os.Args[2:])
	case "all":
		err = runAll(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

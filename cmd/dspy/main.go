package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// Exit codes.
const (
	exitOK        = 0
	exitFailed    = 1   // the run failed
	exitUsage     = 2   // bad command line
	exitCancelled = 130 // interrupted (128 + SIGINT), as shells report it
)

const usageText = `dspy runs a godspy program and streams it.

Usage:
  dspy ask [flags] "question"   stream one answer in the terminal
  dspy serve [flags]            serve the program over HTTP with a web page

Run "dspy ask -h" or "dspy serve -h" for the flags. Without --lm and without
an API key in the environment (or a .env file), both use an offline demo LM.
`

func main() {
	if _, err := loadDotenv(".env", os.LookupEnv, os.Setenv); err != nil {
		fmt.Fprintln(os.Stderr, "dspy:", err)
		os.Exit(exitUsage)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

// run is the command: args without the program name. It returns the exit
// code. Cancelling ctx (Ctrl-C) stops the run and its LM requests.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usageText)
		return exitUsage
	}
	var err error
	if args[0] == "ask" || args[0] == "serve" {
		tel, err := startTelemetry(ctx, getenv) // OTEL_* variables; nil when none is set
		if err != nil {
			fmt.Fprintln(stderr, "dspy:", err)
			return exitUsage
		}
		defer func() {
			if err := tel.shutdown(ctx); err != nil {
				fmt.Fprintln(stderr, "dspy: flushing telemetry:", err)
			}
		}()
		ctx = tel.context(ctx)
	}
	switch args[0] {
	case "ask":
		return runAsk(ctx, args[1:], stdout, stderr, getenv)
	case "serve":
		return runServe(ctx, args[1:], stdout, stderr, getenv)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usageText)
		return exitOK
	default:
		err = fmt.Errorf("unknown command %q (commands: ask, serve)", args[0])
	}
	fmt.Fprintln(stderr, "dspy:", err)
	return exitUsage
}

// parseFlags parses args with flags and positional arguments in any order
// (the flag package alone stops at the first positional one). It returns
// the positional arguments.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			return append(pos, rest...), nil // everything after -- is positional
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// exitCode reports a command's error on stderr and returns its exit code.
func exitCode(stderr io.Writer, cmd string, err error) int {
	if err == nil {
		return exitOK
	}
	msg := strings.TrimPrefix(err.Error(), errUsage.Error()+": ")
	fmt.Fprintf(stderr, "dspy %s: %s\n", cmd, msg)
	if errors.Is(err, errUsage) {
		return exitUsage
	}
	return exitFailed
}

// newFlagSet returns a flag set that reports to stderr and does not exit.
func newFlagSet(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: dspy %s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

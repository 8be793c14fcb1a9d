package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"slices"
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
  dspy mcp [flags]              serve the program as an MCP tool over stdio
  dspy tools [flags]            list the tools and their schemas
  dspy version                  print the version

Run "dspy ask -h", "dspy serve -h" (and so on) for the flags and examples.
Without --lm and without an API key in the environment (or a .env file),
they use an offline demo LM.
`

func main() {
	set, err := loadDotenv(".env", os.LookupEnv, os.Setenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "dspy:", err)
		os.Exit(exitUsage)
	}
	getenv := func(k string) string {
		if key, ok := strings.CutPrefix(k, dotenvMark); ok {
			if slices.Contains(set, key) {
				return "1"
			}
			return ""
		}
		return os.Getenv(k)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, getenv)
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
	case "mcp":
		return runMCP(ctx, args[1:], stdout, stderr, getenv)
	case "tools":
		return runTools(ctx, args[1:], stdout, stderr, getenv)
	case "version", "-version", "--version":
		fmt.Fprintln(stdout, versionLine())
		return exitOK
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usageText)
		return exitOK
	default:
		err = fmt.Errorf("unknown command %q (commands: ask, serve, mcp, tools)", args[0])
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

// flagErrorCode is the exit code after parseFlags failed: 0 when the user
// asked for --help (the flag package printed it), else 2 (it printed what
// was wrong).
func flagErrorCode(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	return exitUsage
}

// exitCode reports a command's error on stderr and returns its exit code.
func exitCode(stderr io.Writer, cmd string, err error) int {
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(stderr, "dspy %s: %s\n", cmd, errorLine(err.Error()))
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

// errorLine makes an error's text fit one line of the command's output: the
// usage marker and the library's own "dspy: " prefixes go (the line
// already starts with "dspy CMD: "), and line breaks become spaces.
func errorLine(msg string) string {
	msg = strings.TrimPrefix(msg, errUsage.Error()+": ")
	msg = strings.TrimPrefix(msg, "dspy: ")
	msg = strings.ReplaceAll(msg, ": dspy: ", ": ")
	return strings.Join(strings.Fields(strings.ReplaceAll(msg, "\n", " ")), " ")
}

// versionLine names the build: the module version (a tag when installed
// with go install ...@VERSION, "devel" from a clone), the VCS revision when
// the build recorded one, and the Go version.
func versionLine() string {
	v, rev := "devel", ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				rev = " " + s.Value[:12]
			}
		}
	}
	return fmt.Sprintf("dspy (godspy) %s%s, %s", v, rev, runtime.Version())
}

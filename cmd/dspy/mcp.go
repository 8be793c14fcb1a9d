package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/godspy/dspy"
	"github.com/godspy/dspy/mcp"
)

// This file holds what the command does with the Model Context Protocol:
// --mcp adds a server's tools to --module react, "dspy tools" lists the
// tools, "dspy serve --serve-mcp" and "dspy mcp" serve the program as an
// MCP tool.

// mcpConnectTimeout bounds starting and listing one MCP server;
// mcpStopTimeout is how long a stdio server has to exit once its stdin is
// closed, before it is sent SIGTERM.
const (
	mcpConnectTimeout = 30 * time.Second
	mcpStopTimeout    = time.Second
)

// mcpFlag collects repeated --mcp "COMMAND ARGS" (or URL) flags.
type mcpFlag []string

func (f *mcpFlag) String() string { return strings.Join(*f, "; ") }

func (f *mcpFlag) Set(s string) error {
	if strings.TrimSpace(s) == "" {
		return errors.New("empty MCP server")
	}
	*f = append(*f, s)
	return nil
}

const mcpFlagHelp = `an MCP server whose tools --module react may call: a command line run over stdio ("npx -y @modelcontextprotocol/server-everything") or a streamable HTTP URL (repeatable)`

// mcpEndpoint reads one --mcp value: an http(s) URL, else a command line
// split as a shell splits words (quotes and backslashes; no expansion).
func mcpEndpoint(spec string) (mcp.Endpoint, error) {
	spec = strings.TrimSpace(spec)
	if strings.HasPrefix(spec, "http://") || strings.HasPrefix(spec, "https://") {
		return mcp.URL(spec, http.DefaultClient), nil
	}
	words, err := splitWords(spec)
	if err != nil {
		return mcp.Endpoint{}, fmt.Errorf("--mcp %q: %w", spec, err)
	}
	if len(words) == 0 {
		return mcp.Endpoint{}, fmt.Errorf("--mcp %q: no command", spec)
	}
	return mcp.Command(words[0], words[1:]...), nil
}

// splitWords splits s into words as a POSIX shell does for quoting:
// 'single' and "double" quotes, backslash escapes; nothing is expanded.
func splitWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	var quote rune
	escaped := false
	for _, r := range s {
		switch {
		case escaped:
			cur.WriteRune(r)
			escaped = false
		case quote == '\'':
			if r == '\'' {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '\\':
			escaped, inWord = true, true
		case quote == '"':
			if r == '"' {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t' || r == '\n':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 || escaped {
		return nil, errors.New("unterminated quote or escape")
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// mcpTools connects to each server and returns the clients (close them)
// and all their tools, in flag order.
func mcpTools(specs []string) ([]*mcp.Client, []*dspy.Tool, error) {
	var clients []*mcp.Client
	var tools []*dspy.Tool
	fail := func(err error) ([]*mcp.Client, []*dspy.Tool, error) {
		for _, c := range clients {
			c.Close()
		}
		return nil, nil, err
	}
	for _, spec := range specs {
		e, err := mcpEndpoint(spec)
		if err != nil {
			return fail(fmt.Errorf("%w: %w", errUsage, err))
		}
		ctx, cancel := context.WithTimeout(context.Background(), mcpConnectTimeout)
		c, err := mcp.Connect(ctx, e, mcp.WithImplementation("dspy", "1"), mcp.WithStopTimeout(mcpStopTimeout))
		if err == nil {
			clients = append(clients, c)
			var ts []*dspy.Tool
			ts, err = c.Tools(ctx)
			tools = append(tools, ts...)
		}
		cancel()
		if err != nil {
			return fail(fmt.Errorf("--mcp %q: %w", spec, err))
		}
	}
	return clients, tools, nil
}

// close ends the program's MCP sessions (and stops their servers).
func (p *program) close() {
	for _, c := range p.mcpClients {
		c.Close()
	}
}

// runTools is "dspy tools": the tools --module react would have, with
// their schemas.
func runTools(_ context.Context, args []string, stdout, stderr io.Writer, _ func(string) string) int {
	fs := newFlagSet("tools", "tools [--tools calculator,clock] [--mcp COMMAND]... [--json]", stderr)
	list := fs.String("tools", strings.Join(toolNames, ","), "the built-in tools, from: "+strings.Join(toolNames, ", "))
	var servers mcpFlag
	fs.Var(&servers, "mcp", mcpFlagHelp)
	jsonOut := fs.Bool("json", false, "print a JSON array of {name, description, source, input_schema}")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return flagErrorCode(err)
	}
	if len(pos) > 0 {
		fmt.Fprintf(stderr, "dspy tools: unexpected argument %q (tools takes only flags)\n", pos[0])
		return exitUsage
	}
	builtins, err := parseTools(*list, time.Now)
	if err != nil {
		return exitCode(stderr, "tools", fmt.Errorf("%w: %w", errUsage, err))
	}
	type entry struct {
		Name        string         `json:"name"`
		Description string         `json:"description"`
		Source      string         `json:"source"`
		InputSchema map[string]any `json:"input_schema"`
	}
	var entries []entry
	for _, t := range builtins {
		entries = append(entries, entry{t.Name(), t.Desc(), "built-in", t.Parameters()})
	}
	for _, spec := range servers {
		clients, tools, err := mcpTools([]string{spec})
		if err != nil {
			return exitCode(stderr, "tools", err)
		}
		for _, t := range tools {
			entries = append(entries, entry{t.Name(), t.Desc(), "mcp: " + spec, t.Parameters()})
		}
		for _, c := range clients {
			c.Close()
		}
	}
	if *jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if entries == nil {
			entries = []entry{}
		}
		if err := enc.Encode(entries); err != nil {
			return exitCode(stderr, "tools", err)
		}
		return exitOK
	}
	for i, e := range entries {
		if i > 0 {
			fmt.Fprintln(stdout)
		}
		fmt.Fprintf(stdout, "%s (%s)\n", e.Name, e.Source)
		if e.Description != "" {
			fmt.Fprintf(stdout, "  %s\n", strings.ReplaceAll(e.Description, "\n", "\n  "))
		}
		schema, err := json.MarshalIndent(e.InputSchema, "  ", "  ")
		if err != nil {
			return exitCode(stderr, "tools", err)
		}
		fmt.Fprintf(stdout, "  %s\n", schema)
	}
	return exitOK
}

// mcpServeFlags are the flags of serving the program as an MCP tool.
type mcpServeFlags struct {
	toolName string
	desc     string
}

func (f *mcpServeFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.toolName, "tool-name", "ask", "the name of the MCP tool the program is served as")
	fs.StringVar(&f.desc, "tool-desc", "", "the MCP tool's description (default: made from the signature)")
}

// mcpServer serves the program as one MCP tool; each call runs it with
// the run timeout.
func mcpServer(p *program, f mcpServeFlags) (*mcp.Server, error) {
	s := mcp.NewServer("dspy", "1")
	m := timedModule{m: p.module, timeout: p.flags.timeout}
	if err := s.AddModule(f.toolName, f.desc, m, mcp.WithSignature(p.sig)); err != nil {
		return nil, err
	}
	return s, nil
}

// timedModule runs a module with a time limit and usage tracking.
type timedModule struct {
	m       dspy.Module
	timeout time.Duration
}

func (t timedModule) Forward(ctx context.Context, in dspy.Inputs) (*dspy.Prediction, error) {
	if t.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, t.timeout)
		defer cancel()
	}
	return dspy.Call(dspy.WithSettings(ctx, dspy.WithUsageTracking(true)), t.m, in)
}

// runMCP is "dspy mcp": the program as an MCP tool over stdin and stdout,
// as Claude Desktop or an IDE starts a server. Messages for a person go to
// stderr: stdout is the protocol's.
func runMCP(ctx context.Context, args []string, _, stderr io.Writer, getenv func(string) string) int {
	fs := newFlagSet("mcp", "mcp [flags]", stderr)
	var pf programFlags
	pf.register(fs, askSignature)
	var mf mcpServeFlags
	mf.register(fs)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return flagErrorCode(err)
	}
	if len(pos) > 0 {
		fmt.Fprintf(stderr, "dspy mcp: unexpected argument %q (mcp takes only flags)\n", pos[0])
		return exitUsage
	}
	prog, err := buildProgram(pf, getenv)
	if err != nil {
		return exitCode(stderr, "mcp", err)
	}
	defer prog.close()
	s, err := mcpServer(prog, mf)
	if err != nil {
		return exitCode(stderr, "mcp", err)
	}
	fmt.Fprintln(stderr, prog.lm.banner)
	fmt.Fprintf(stderr, "Serving %s (%s) as the MCP tool %q over stdio.\n", prog.flags.module, prog.sig.String(), mf.toolName)
	if err := s.ServeStdio(ctx); err != nil {
		return exitCode(stderr, "mcp", err)
	}
	return exitOK
}

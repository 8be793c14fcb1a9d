package mcp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/godspy/dspy"
)

// ErrDisconnected is matched (errors.Is) by the error of a call made after
// the server went away: its process exited, or its connection closed. The
// error also wraps the cause the session ended with.
var ErrDisconnected = errors.New("mcp: server disconnected")

// ErrClosed is matched by the error of a call made after Close.
var ErrClosed = errors.New("mcp: client closed")

// Endpoint says how to reach an MCP server: a command to run (stdio), a URL
// (streamable HTTP), or any SDK transport.
type Endpoint struct {
	name      string
	transport func() sdk.Transport
	// keepOrder wraps the connection to keep the raw input schemas (see
	// raw.go). Only for stdio: the streamable HTTP client connection
	// relies on methods a wrapper cannot forward.
	keepOrder bool
}

// Command is the server that name runs with args, spoken to over its
// stdin and stdout. Its stderr is the calling process's.
func Command(name string, args ...string) Endpoint {
	return Endpoint{
		name: strings.Join(append([]string{name}, args...), " "),
		transport: func() sdk.Transport {
			return &sdk.CommandTransport{Command: exec.Command(name, args...)}
		},
		keepOrder: true,
	}
}

// URL is the server at url, spoken to over streamable HTTP with client
// (nil: http.DefaultClient).
func URL(url string, client *http.Client) Endpoint {
	return Endpoint{
		name: url,
		transport: func() sdk.Transport {
			return &sdk.StreamableClientTransport{Endpoint: url, HTTPClient: client}
		},
	}
}

// Transport is the server that newTransport's transports reach: it is
// called for each connection (again on reconnect), since a transport such
// as sdk.CommandTransport connects only once. name identifies the server
// in errors. The SDK decodes the input schemas it lists into Go maps, so
// their arguments are in sorted order; Command keeps the server's.
func Transport(name string, newTransport func() sdk.Transport) Endpoint {
	return Endpoint{name: name, transport: newTransport}
}

// String returns the endpoint's name: the command line or the URL.
func (e Endpoint) String() string { return e.name }

// Progress is a progress notification the server sent for a tool call.
type Progress struct {
	Tool     string  // the tool called
	Progress float64 // the progress so far; it increases
	Total    float64 // the total, 0 if unknown
	Message  string  // what the server says it is doing, if anything
}

// Option configures a Client.
type Option interface{ apply(*config) }

type config struct {
	progress  func(context.Context, Progress)
	reconnect bool
	name      string
	version   string
	stopAfter time.Duration
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithProgress sets the hook that receives the server's progress
// notifications for tool calls, with the ctx of the call they belong to
// (so a stream can route them to its own events). Calls then carry a
// progress token, which asks the server to report progress. f runs on the
// SDK's goroutine that handles the session's notifications, in their
// order: it must return quickly. The SDK hands over results on another
// goroutine, so a notification sent just before a call's result may reach
// f after the call returned: it is then dropped. A panic in f cancels the
// call and is raised again from it as a *dspy.PanicError.
func WithProgress(f func(ctx context.Context, p Progress)) Option {
	return optionFunc(func(c *config) { c.progress = f })
}

// WithReconnect makes a call after the server went away connect again
// first (and the tool list be fetched again), instead of failing with
// ErrDisconnected. A call in flight when the server went away still
// fails: it may have had effects.
func WithReconnect() Option {
	return optionFunc(func(c *config) { c.reconnect = true })
}

// WithStopTimeout sets how long Close waits for a Command server to exit
// after closing its stdin, before it sends it SIGTERM (default 5 s, the
// SDK's).
func WithStopTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) { c.stopAfter = d })
}

// WithImplementation sets the client's name and version, as the server
// sees them (default "godspy", "1").
func WithImplementation(name, version string) Option {
	return optionFunc(func(c *config) { c.name, c.version = name, version })
}

// Client is a connection to one MCP server and its tools. It is safe for
// concurrent use.
type Client struct {
	endpoint Endpoint
	cfg      config
	client   *sdk.Client

	mu      sync.Mutex
	sess    *session // nil after Close
	closed  bool
	tools   []*dspy.Tool // as last listed
	stale   bool         // the server said the list changed, or a new session started
	changed chan struct{}

	tokens  atomic.Int64
	calls   sync.Map // progress token -> *callState
	connect sync.Mutex
}

// session is one connection; done is closed when it ends.
type session struct {
	cs   *sdk.ClientSession
	raw  *rawSchemas
	done chan struct{}
	err  error // why it ended; read after done
}

// Connect connects to the server and lists its tools. The Client owns the
// session: Close it when done.
func Connect(ctx context.Context, e Endpoint, opts ...Option) (*Client, error) {
	c := &Client{endpoint: e, cfg: config{name: "godspy", version: "1"}, changed: make(chan struct{})}
	for _, o := range opts {
		o.apply(&c.cfg)
	}
	co := &sdk.ClientOptions{
		ToolListChangedHandler: func(context.Context, *sdk.ToolListChangedRequest) { c.listChanged() },
	}
	if c.cfg.progress != nil {
		co.ProgressNotificationHandler = c.onProgress
	}
	c.client = sdk.NewClient(&sdk.Implementation{Name: c.cfg.name, Version: c.cfg.version}, co)
	s, err := c.dial(ctx)
	if err != nil {
		return nil, err
	}
	c.sess = s
	if _, err := c.Tools(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// dial opens a session and starts its watcher.
func (c *Client) dial(ctx context.Context) (*session, error) {
	raw := &rawSchemas{byName: map[string]json.RawMessage{}, pending: map[any]bool{}}
	t := c.endpoint.transport()
	if ct, ok := t.(*sdk.CommandTransport); ok && c.cfg.stopAfter > 0 {
		ct.TerminateDuration = c.cfg.stopAfter
	}
	if c.endpoint.keepOrder {
		t = &rawTransport{Transport: t, raw: raw}
	}
	cs, err := c.client.Connect(ctx, t, nil)
	if err != nil {
		return nil, fmt.Errorf("mcp: connecting to %s: %w", c.endpoint, err)
	}
	s := &session{cs: cs, raw: raw, done: make(chan struct{})}
	// The watcher: owned by the Client through the session, it ends when
	// the session does (Close, or the server going away). No user code.
	go func() {
		s.err = cs.Wait()
		cs.Close() // releases what the SDK keeps for a session the server ended
		close(s.done)
	}()
	return s, nil
}

// Close ends the session (and stops the server's process, for Command).
// It is idempotent and safe to call concurrently; calls in flight fail.
func (c *Client) Close() error {
	c.mu.Lock()
	s := c.sess
	c.sess, c.closed = nil, true
	c.mu.Unlock()
	if s == nil {
		return nil
	}
	err := s.cs.Close()
	<-s.done
	if errors.Is(err, sdk.ErrConnectionClosed) {
		err = nil // it had gone already
	}
	return err
}

// listChanged runs on the SDK's goroutine: it only marks the list stale
// and wakes who waits for a change.
func (c *Client) listChanged() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stale = true
	close(c.changed)
	c.changed = make(chan struct{})
}

// ToolsChanged returns a channel closed the next time the server reports
// that its tool list changed; Tools then fetches the new list.
func (c *Client) ToolsChanged() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.changed
}

// live returns the session to call on: the current one, or, with
// WithReconnect, a new one if the server went away.
func (c *Client) live(ctx context.Context) (*session, error) {
	c.mu.Lock()
	s, closed := c.sess, c.closed
	c.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	select {
	case <-s.done:
	default:
		return s, nil
	}
	if !c.cfg.reconnect {
		return nil, c.disconnected(s)
	}
	c.connect.Lock()
	defer c.connect.Unlock()
	c.mu.Lock()
	cur := c.sess
	c.mu.Unlock()
	if cur != s && cur != nil {
		return cur, nil // another call reconnected
	}
	ns, err := c.dial(ctx)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		ns.cs.Close()
		return nil, ErrClosed
	}
	c.sess, c.stale = ns, true
	return ns, nil
}

func (c *Client) disconnected(s *session) error {
	if s.err != nil {
		return fmt.Errorf("mcp: %s: %w: %w", c.endpoint, ErrDisconnected, s.err)
	}
	return fmt.Errorf("mcp: %s: %w", c.endpoint, ErrDisconnected)
}

// gone reports whether a call's error is the session ending under it:
// the connection closed, or its pipe or socket did, which ends it.
func gone(s *session, err error) bool {
	for _, cond := range []error{sdk.ErrConnectionClosed, io.EOF, io.ErrUnexpectedEOF, io.ErrClosedPipe, net.ErrClosed, os.ErrClosed, syscall.EPIPE} {
		if errors.Is(err, cond) {
			s.cs.Close() // a broken connection does not recover; the watcher then ends
			return true
		}
	}
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// Tools returns the server's tools, fetching the list again first if the
// server said it changed, or after a reconnect.
func (c *Client) Tools(ctx context.Context) ([]*dspy.Tool, error) {
	c.mu.Lock()
	tools, stale, first := c.tools, c.stale, c.tools == nil
	c.mu.Unlock()
	if !stale && !first {
		return append([]*dspy.Tool(nil), tools...), nil
	}
	s, err := c.live(ctx)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.stale = false // a change from now on marks it again
	c.mu.Unlock()
	var list []*dspy.Tool
	for t, err := range s.cs.Tools(ctx, nil) {
		if err != nil {
			if gone(s, err) {
				return nil, c.disconnected(s)
			}
			return nil, fmt.Errorf("mcp: %s: listing tools: %w", c.endpoint, err)
		}
		tool, err := c.newTool(s, t)
		if err != nil {
			return nil, err
		}
		list = append(list, tool)
	}
	if list == nil {
		list = []*dspy.Tool{}
	}
	c.mu.Lock()
	c.tools = list
	c.mu.Unlock()
	return append([]*dspy.Tool(nil), list...), nil
}

// newTool makes a dspy.Tool of a server's tool. Its schema is the one
// the server sent, byte for byte when the raw listing was seen.
func (c *Client) newTool(s *session, t *sdk.Tool) (*dspy.Tool, error) {
	schema, ok := s.raw.schema(t.Name)
	if !ok {
		b, err := json.Marshal(t.InputSchema)
		if err != nil {
			return nil, fmt.Errorf("mcp: %s: tool %s: input schema: %w", c.endpoint, t.Name, err)
		}
		schema = b
	}
	name := t.Name
	tool, err := dspy.NewToolFromSchema(name, t.Description, schema, func(ctx context.Context, args map[string]any) (any, error) {
		res, err := c.CallTool(ctx, name, args)
		if err != nil {
			return nil, err
		}
		return observation(name, res)
	})
	if err != nil {
		return nil, fmt.Errorf("mcp: %s: %w", c.endpoint, err)
	}
	return tool, nil
}

// callState is what the progress handler needs of a call in flight.
type callState struct {
	ctx    context.Context
	cancel context.CancelFunc
	tool   string
	mu     sync.Mutex
	panic  *dspy.PanicError
}

// CallTool calls the server's tool name with args over the current
// session, with ctx: cancelling it sends the server notifications/cancelled
// and returns ctx's error at once. It returns the whole result, isError
// included; a protocol error (an unknown tool, say) is an error.
func (c *Client) CallTool(ctx context.Context, name string, args map[string]any) (*sdk.CallToolResult, error) {
	s, err := c.live(ctx)
	if err != nil {
		return nil, err
	}
	params := &sdk.CallToolParams{Name: name, Arguments: args}
	var st *callState
	if c.cfg.progress != nil {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		st = &callState{ctx: ctx, cancel: cancel, tool: name}
		token := "godspy-" + strconv.FormatInt(c.tokens.Add(1), 10)
		c.calls.Store(token, st)
		defer c.calls.Delete(token)
		params.SetProgressToken(token)
		res, err := s.cs.CallTool(ctx, params)
		st.mu.Lock()
		p := st.panic
		st.mu.Unlock()
		if p != nil {
			panic(p) // on the caller's goroutine, as the package doc says
		}
		return c.result(s, name, res, err)
	}
	res, err := s.cs.CallTool(ctx, params)
	return c.result(s, name, res, err)
}

func (c *Client) result(s *session, name string, res *sdk.CallToolResult, err error) (*sdk.CallToolResult, error) {
	switch {
	case err == nil:
		return res, nil
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return nil, err
	case gone(s, err):
		<-s.done // the watcher records why
		return nil, c.disconnected(s)
	}
	return nil, fmt.Errorf("mcp: %s: calling tool %s: %w", c.endpoint, name, err)
}

// onProgress runs on the SDK's reading goroutine.
func (c *Client) onProgress(_ context.Context, req *sdk.ProgressNotificationClientRequest) {
	p := req.Params
	v, ok := c.calls.Load(p.ProgressToken)
	if !ok {
		return // a call that ended, or a token that is not ours
	}
	st := v.(*callState)
	defer func() {
		if r := recover(); r != nil {
			st.mu.Lock()
			if st.panic == nil {
				st.panic = &dspy.PanicError{Value: r, Stack: debug.Stack()}
			}
			st.mu.Unlock()
			st.cancel()
		}
	}()
	c.cfg.progress(st.ctx, Progress{Tool: st.tool, Progress: p.Progress, Total: p.Total, Message: p.Message})
}

// ToolError is a tool result the server marked isError: the tool ran and
// failed. Its message is DSPy's, which ReAct records as the observation.
type ToolError struct {
	Tool    string
	Content []sdk.Content // what the server said
	text    string
}

func (e *ToolError) Error() string { return "Failed to call a MCP tool: " + e.text }

// observation turns a result into the tool's output as DSPy's
// _convert_mcp_tool_result does: the text of one text content, the texts
// of several; without text, the structured content, else the other
// contents as JSON objects.
func observation(tool string, res *sdk.CallToolResult) (any, error) {
	var texts []string
	var others []any
	for _, ct := range res.Content {
		if tc, ok := ct.(*sdk.TextContent); ok {
			texts = append(texts, tc.Text)
			continue
		}
		b, err := json.Marshal(ct)
		if err != nil {
			return nil, fmt.Errorf("mcp: tool %s: result content: %w", tool, err)
		}
		var v any
		if err := json.Unmarshal(b, &v); err != nil {
			return nil, fmt.Errorf("mcp: tool %s: result content: %w", tool, err)
		}
		others = append(others, v)
	}
	var out any
	switch {
	case len(texts) == 1:
		out = texts[0]
	case len(texts) > 1:
		out = texts
	case res.StructuredContent != nil:
		out = res.StructuredContent
	case others != nil:
		out = others
	default:
		out = ""
	}
	if res.IsError {
		text := fmt.Sprint(out)
		if len(texts) > 1 {
			// Python's str of a list of str, as DSPy's message shows it.
			q := make([]string, len(texts))
			for i, t := range texts {
				q[i] = pyQuote(t)
			}
			text = "[" + strings.Join(q, ", ") + "]"
		}
		return nil, &ToolError{Tool: tool, Content: res.Content, text: text}
	}
	return out, nil
}

// pyQuote quotes s as Python's repr of a str does, in the common case.
func pyQuote(s string) string {
	q := "'"
	if strings.Contains(s, "'") && !strings.Contains(s, `"`) {
		q = `"`
	}
	s = strings.ReplaceAll(s, `\`, `\\`)
	s = strings.ReplaceAll(s, "\n", `\n`)
	if q == "'" {
		s = strings.ReplaceAll(s, "'", `\'`)
	}
	return q + s + q
}

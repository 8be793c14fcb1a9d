package mcp

import (
	"context"
	"encoding/json"
	"sync"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// The SDK hands a client each tool's inputSchema decoded into a
// map[string]any, which has lost the order of its properties; the LM
// should see the arguments in the server's order, as DSPy (whose JSON
// objects keep it) shows them. So the connection is wrapped to keep the
// raw inputSchema of each tool in the tools/list responses it reads.

// rawSchemas holds the raw input schemas of one session's listings.
type rawSchemas struct {
	mu      sync.Mutex
	pending map[any]bool // ids of tools/list requests sent
	byName  map[string]json.RawMessage
}

func (r *rawSchemas) schema(name string) (json.RawMessage, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.byName[name]
	return s, ok
}

type rawTransport struct {
	sdk.Transport
	raw *rawSchemas
}

func (t *rawTransport) Connect(ctx context.Context) (sdk.Connection, error) {
	conn, err := t.Transport.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &rawConn{Connection: conn, raw: t.raw}, nil
}

type rawConn struct {
	sdk.Connection
	raw *rawSchemas
}

func (c *rawConn) Write(ctx context.Context, msg jsonrpc.Message) error {
	if req, ok := msg.(*jsonrpc.Request); ok && req.Method == "tools/list" && req.ID.IsValid() {
		c.raw.mu.Lock()
		c.raw.pending[req.ID.Raw()] = true
		c.raw.mu.Unlock()
	}
	return c.Connection.Write(ctx, msg)
}

func (c *rawConn) Read(ctx context.Context) (jsonrpc.Message, error) {
	msg, err := c.Connection.Read(ctx)
	if resp, ok := msg.(*jsonrpc.Response); ok && err == nil && resp.ID.IsValid() {
		c.raw.mu.Lock()
		mine := c.raw.pending[resp.ID.Raw()]
		delete(c.raw.pending, resp.ID.Raw())
		c.raw.mu.Unlock()
		if mine && resp.Error == nil {
			c.keep(resp.Result)
		}
	}
	return msg, err
}

// keep records the raw schemas of a tools/list result. What does not
// parse is left to the SDK, which reports it.
func (c *rawConn) keep(result json.RawMessage) {
	var list struct {
		Tools []struct {
			Name        string          `json:"name"`
			InputSchema json.RawMessage `json:"inputSchema"`
		} `json:"tools"`
	}
	if json.Unmarshal(result, &list) != nil {
		return
	}
	c.raw.mu.Lock()
	defer c.raw.mu.Unlock()
	for _, t := range list.Tools {
		if len(t.InputSchema) > 0 {
			c.raw.byName[t.Name] = t.InputSchema
		}
	}
}

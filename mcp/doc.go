// Package mcp connects godspy to the Model Context Protocol, on the
// official Go SDK (github.com/modelcontextprotocol/go-sdk): tools from any
// MCP server become *dspy.Tool values a ReAct agent can call, and a godspy
// program can be served as an MCP tool, so that Claude Desktop, IDEs and
// other agents can call it.
//
// # Tools from a server
//
//	c, err := mcp.Connect(ctx, mcp.Command("npx", "-y", "@modelcontextprotocol/server-everything"))
//	defer c.Close()
//	tools, err := c.Tools(ctx)
//	agent := dspy.NewReAct("question -> answer", tools)
//
// Each tool's schema is the server's inputSchema, unchanged: the LM sees
// exactly what the server advertises, its arguments in the server's order,
// as DSPy shows them (dspy.Tool.from_mcp_tool). A call goes over the
// client's session with the call's ctx, so cancelling the agent's run
// sends the server the protocol's notifications/cancelled and returns at
// once. The result is the observation as DSPy makes it: the text of a
// single text content, a list of the texts of several, else the structured
// content, else the other contents. A result with isError becomes an error
// ("Failed to call a MCP tool: ..."), which ReAct records as the
// observation, as DSPy does; so does a protocol error. [Client.CallTool]
// returns the whole result for a program that wants the structured content
// as well.
//
// Progress notifications from the server reach the [WithProgress] hook,
// with the ctx of the call they belong to.
//
// # Lifecycle
//
// A [Client] owns its session (and, for [Command], the process): Close
// ends both, and is idempotent. A server that goes away (a crashed
// process, a closed connection) makes the next call fail with an error
// matching [ErrDisconnected]; with [WithReconnect], the next call connects
// again first (a call in flight when the server went away is not retried:
// it may have had effects). When the server says its tool list changed
// (notifications/tools/list_changed), the next Tools call fetches it
// again, and the channel of [Client.ToolsChanged] is closed. An agent
// built earlier keeps the tools it was built with — its prompt lists them,
// as DSPy's ReAct builds its tool list once — and those keep working while
// the server has them; build a new agent from Tools to use the new list.
//
// # Serving a program
//
// [NewServer] and [Server.AddModule] make a dspy.Module an MCP tool: its
// signature's inputs are the tool's input schema, the prediction's fields
// its structured content. [Server.Handler] serves it over streamable HTTP,
// [Server.ServeStdio] over stdin and stdout.
//
// # Goroutines
//
// A Client starts one goroutine per session, which waits for the session
// to end and records why; it runs no user code and ends when the session
// does (Close, or the server going away). The progress hook runs on the
// SDK's goroutine that reads the session: it must not block. A panic in it
// is recovered there, cancels the call it belongs to, and is raised again
// as a *dspy.PanicError from the call, on the caller's goroutine. The
// Server starts none of its own: the SDK runs each call on its own
// goroutine, and a panic in a served module becomes the call's error
// result.
package mcp

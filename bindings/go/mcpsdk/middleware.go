// Package mcpsdk puts a portcullis Engine in front of the tools of a server
// built with the official MCP Go SDK (github.com/modelcontextprotocol/go-sdk).
//
// Middleware returns receiving middleware that evaluates every tools/call
// request before the server looks up and runs the tool:
//
//	server.AddReceivingMiddleware(mcpsdk.Middleware(engine, mcpsdk.Options{}))
//
// The action for a call is {"tool": <name>, "agent": {"id": <agent>},
// "params": <the call's arguments, as sent>}. A call the policy does not
// allow never reaches the tool: the client gets a tool result with IsError
// set, the refusal as text, and the decision under the _meta key
// "portcullis/decision". When an allow rule rewrites params, the tool gets
// the rewritten arguments (and the SDK validates them against the tool's
// input schema as usual).
package mcpsdk

import (
	"context"
	"fmt"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	portcullis "github.com/portcullis/portcullis/bindings/go"
	"github.com/portcullis/portcullis/bindings/go/internal/gate"
)

// MetaKey is the _meta key under which a refusal carries the decision.
const MetaKey = "portcullis/decision"

const methodCallTool = "tools/call"

// Options says who is calling.
type Options struct {
	// Agent returns the acting agent's id. By default it is the name the
	// client gave in its initialize request (clientInfo.name). An empty id
	// makes the call an invalid action, which is denied.
	Agent func(ctx context.Context, req *mcp.CallToolRequest) string
	// Context, when set, returns host metadata for the action's context.
	Context func(ctx context.Context, req *mcp.CallToolRequest) map[string]any
	// OnDecision, when set, is called with every decision (for audit or
	// metrics) before the tool runs or the refusal is returned.
	OnDecision func(ctx context.Context, req *mcp.CallToolRequest, d portcullis.Decision)
}

// ClientName is the default Options.Agent: the client's name from its
// initialize request.
func ClientName(_ context.Context, req *mcp.CallToolRequest) string {
	if info := req.ClientInfo(); info != nil {
		return info.Name
	}
	return ""
}

// Middleware returns receiving middleware that checks every tools/call
// request with engine. Other methods pass through unchanged.
func Middleware(engine *portcullis.Engine, opts Options) mcp.Middleware {
	if opts.Agent == nil {
		opts.Agent = ClientName
	}
	return func(next mcp.MethodHandler) mcp.MethodHandler {
		return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
			if method != methodCallTool {
				return next(ctx, method, req)
			}
			call, ok := req.(*mcp.CallToolRequest)
			if !ok || call.Params == nil {
				// Fail closed on a request shape this middleware does not know.
				return nil, fmt.Errorf("portcullis: unexpected %s request %T", method, req)
			}
			c := gate.Call{Tool: call.Params.Name, Agent: opts.Agent(ctx, call), Args: call.Params.Arguments}
			if opts.Context != nil {
				c.Context = opts.Context(ctx, call)
			}
			d := gate.Evaluate(engine, c)
			if opts.OnDecision != nil {
				opts.OnDecision(ctx, call, d)
			}
			if !d.Allowed {
				return Refusal(call.Params.Name, d), nil
			}
			if d.RawParams != nil {
				call.Params.Arguments = d.RawParams
			}
			return next(ctx, method, req)
		}
	}
}

// Refusal is the tool result sent in place of a refused call.
func Refusal(tool string, d portcullis.Decision) *mcp.CallToolResult {
	err := &portcullis.DeniedError{Tool: tool, Decision: d}
	return &mcp.CallToolResult{
		Meta:    mcp.Meta{MetaKey: d},
		Content: []mcp.Content{&mcp.TextContent{Text: err.Error()}},
		IsError: true,
	}
}

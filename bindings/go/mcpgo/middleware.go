// Package mcpgo puts a portcullis Engine in front of the tools of a
// github.com/mark3labs/mcp-go server, as a server.ToolHandlerMiddleware:
//
//	s := server.NewMCPServer("name", "1.0.0",
//		server.WithToolHandlerMiddleware(mcpgo.Middleware(engine, mcpgo.Options{})))
//
// The action for a call is {"tool": <name>, "agent": {"id": <agent>},
// "params": <the call's arguments>}; arguments received over the wire are
// sent to the engine as the client wrote them. A call the policy does not
// allow never reaches the tool handler: the client gets a tool result with
// IsError set, the refusal as text, and the decision under the _meta key
// "portcullis/decision". When an allow rule rewrites params, the handler gets
// the rewritten arguments (in Arguments and RawArguments alike).
package mcpgo

import (
	"context"
	"encoding/json"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	portcullis "github.com/portcullis/portcullis/bindings/go"
	"github.com/portcullis/portcullis/bindings/go/internal/gate"
)

// MetaKey is the _meta key under which a refusal carries the decision.
const MetaKey = "portcullis/decision"

// Options says who is calling.
type Options struct {
	// Agent returns the acting agent's id. By default it is the name the
	// client gave in its initialize request (clientInfo.name). An empty id
	// makes the call an invalid action, which is denied.
	Agent func(ctx context.Context, req mcp.CallToolRequest) string
	// Context, when set, returns host metadata for the action's context.
	Context func(ctx context.Context, req mcp.CallToolRequest) map[string]any
	// OnDecision, when set, is called with every decision (for audit or
	// metrics) before the tool runs or the refusal is returned.
	OnDecision func(ctx context.Context, req mcp.CallToolRequest, d portcullis.Decision)
}

// ClientName is the default Options.Agent: the client's name from its
// initialize request, as the server's session recorded it.
func ClientName(ctx context.Context, _ mcp.CallToolRequest) string {
	if s, ok := server.ClientSessionFromContext(ctx).(server.SessionWithClientInfo); ok {
		return s.GetClientInfo().Name
	}
	return ""
}

// Middleware returns tool handler middleware that checks every call with
// engine before the handler runs.
func Middleware(engine *portcullis.Engine, opts Options) server.ToolHandlerMiddleware {
	if opts.Agent == nil {
		opts.Agent = ClientName
	}
	return func(next server.ToolHandlerFunc) server.ToolHandlerFunc {
		return func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			d := evaluate(ctx, engine, opts, req)
			if opts.OnDecision != nil {
				opts.OnDecision(ctx, req, d)
			}
			if !d.Allowed {
				return Refusal(req.Params.Name, d), nil
			}
			if d.Params != nil {
				req.Params.Arguments = d.Params
				req.Params.RawArguments = append(json.RawMessage(nil), d.RawParams...)
			}
			return next(ctx, req)
		}
	}
}

func evaluate(ctx context.Context, engine *portcullis.Engine, opts Options, req mcp.CallToolRequest) portcullis.Decision {
	var hostContext map[string]any
	if opts.Context != nil {
		hostContext = opts.Context(ctx, req)
	}
	agent := opts.Agent(ctx, req)
	c := gate.Call{Tool: req.Params.Name, Agent: agent, Context: hostContext}
	switch args := req.Params.Arguments.(type) {
	case nil:
		c.Args = req.Params.RawArguments
	case map[string]any:
		if len(req.Params.RawArguments) > 0 {
			c.Args = req.Params.RawArguments
			break
		}
		// Arguments set in process: the binding's strict encoder sends them.
		return engine.Evaluate(portcullis.Action{Tool: req.Params.Name, Agent: portcullis.Agent{ID: agent},
			Params: args, Context: hostContext})
	default:
		if len(req.Params.RawArguments) > 0 {
			c.Args = req.Params.RawArguments
			break
		}
		raw, err := json.Marshal(args)
		if err != nil {
			return gate.Invalid(engine, err)
		}
		c.Args = raw
	}
	return gate.Evaluate(engine, c)
}

// Refusal is the tool result sent in place of a refused call.
func Refusal(tool string, d portcullis.Decision) *mcp.CallToolResult {
	res := mcp.NewToolResultError((&portcullis.DeniedError{Tool: tool, Decision: d}).Error())
	res.Meta = mcp.NewMetaFromMap(map[string]any{MetaKey: d})
	return res
}

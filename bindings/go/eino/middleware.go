// Package eino puts a portcullis Engine in front of the tools of a CloudWeGo
// Eino agent (github.com/cloudwego/eino), as tool-call middleware of its
// ToolsNode:
//
//	conf := compose.ToolsNodeConfig{
//		Tools:               tools,
//		ToolCallMiddlewares: []compose.ToolMiddleware{eino.Middleware(engine, eino.Options{Agent: "assistant-1"})},
//	}
//
// (react.AgentConfig.ToolsConfig takes the same config.) The action for a
// call is {"tool": <tool name>, "agent": {"id": <agent>}, "params": <the
// model's arguments, as sent>}.
//
//   - allow: the tool runs, with the rewritten arguments when a modify rule
//     changed them;
//   - deny, rate_limit and any other refusal: the tool does not run. By
//     default the refusal text becomes the tool's result, so the model reads
//     why and the run goes on; with RefusalAsError the call returns a
//     *portcullis.DeniedError instead, which stops the run;
//   - require_approval: Options.Approve, when set, asks a person. When it
//     says yes the engine is granted a one-use approval for this exact action
//     and decides again (deny rules and rate limits still apply); otherwise,
//     or without Approve, the call is refused.
//
// The middleware covers invokable and streamable tools, plain and enhanced
// (multimodal); enhanced tools always get a refusal as an error.
package eino

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/cloudwego/eino/compose"
	"github.com/cloudwego/eino/schema"

	portcullis "github.com/portcullis/portcullis/bindings/go"
	"github.com/portcullis/portcullis/bindings/go/internal/gate"
)

// Call is one tool call as the middleware saw it.
type Call struct {
	Tool      string
	Arguments string
	CallID    string
}

// Options says who is calling, how refusals are reported and who approves.
type Options struct {
	// Agent is the acting agent's id (required: an empty id makes every call
	// an invalid action, which is denied).
	Agent string
	// AgentFunc, when set, returns the agent id per call instead of Agent.
	AgentFunc func(ctx context.Context, call Call) string
	// Context, when set, returns host metadata for the action's context.
	Context func(ctx context.Context, call Call) map[string]any
	// RefusalAsError makes a refused call fail with a *portcullis.DeniedError
	// (which stops an Eino run) instead of returning the refusal as the
	// tool's result.
	RefusalAsError bool
	// Approve, when set, is asked about calls the policy holds for approval.
	// It returns true to run the call.
	Approve func(ctx context.Context, call Call, d portcullis.Decision) (bool, error)
	// ApprovalTTL is the lifetime of the engine approval granted after a yes
	// (default one second of the engine's clock; one use).
	ApprovalTTL time.Duration
	// OnDecision, when set, is called with every final decision.
	OnDecision func(ctx context.Context, call Call, d portcullis.Decision)
}

type guard struct {
	engine *portcullis.Engine
	opts   Options
}

// Middleware returns the ToolsNode middleware that checks every tool call
// with engine.
func Middleware(engine *portcullis.Engine, opts Options) compose.ToolMiddleware {
	g := &guard{engine: engine, opts: opts}
	return compose.ToolMiddleware{
		Invokable: func(next compose.InvokableToolEndpoint) compose.InvokableToolEndpoint {
			return func(ctx context.Context, in *compose.ToolInput) (*compose.ToolOutput, error) {
				args, refusal, err := g.decide(ctx, in)
				if err != nil || refusal != "" {
					return &compose.ToolOutput{Result: refusal}, err
				}
				return next(ctx, withArguments(in, args))
			}
		},
		Streamable: func(next compose.StreamableToolEndpoint) compose.StreamableToolEndpoint {
			return func(ctx context.Context, in *compose.ToolInput) (*compose.StreamToolOutput, error) {
				args, refusal, err := g.decide(ctx, in)
				if err != nil {
					return nil, err
				}
				if refusal != "" {
					return &compose.StreamToolOutput{Result: schema.StreamReaderFromArray([]string{refusal})}, nil
				}
				return next(ctx, withArguments(in, args))
			}
		},
		EnhancedInvokable: func(next compose.EnhancedInvokableToolEndpoint) compose.EnhancedInvokableToolEndpoint {
			return func(ctx context.Context, in *compose.ToolInput) (*compose.EnhancedInvokableToolOutput, error) {
				args, err := g.decideStrict(ctx, in)
				if err != nil {
					return nil, err
				}
				return next(ctx, withArguments(in, args))
			}
		},
		EnhancedStreamable: func(next compose.EnhancedStreamableToolEndpoint) compose.EnhancedStreamableToolEndpoint {
			return func(ctx context.Context, in *compose.ToolInput) (*compose.EnhancedStreamableToolOutput, error) {
				args, err := g.decideStrict(ctx, in)
				if err != nil {
					return nil, err
				}
				return next(ctx, withArguments(in, args))
			}
		},
	}
}

func withArguments(in *compose.ToolInput, args string) *compose.ToolInput {
	out := *in
	out.Arguments = args
	return &out
}

// decideStrict is decide with every refusal as an error.
func (g *guard) decideStrict(ctx context.Context, in *compose.ToolInput) (string, error) {
	args, refusal, err := g.decide(ctx, in)
	if err == nil && refusal != "" {
		err = fmt.Errorf("portcullis: %s", refusal)
	}
	return args, err
}

// decide returns the arguments to run the tool with, or the refusal text (or
// error, with RefusalAsError) when it must not run.
func (g *guard) decide(ctx context.Context, in *compose.ToolInput) (args, refusal string, err error) {
	call := Call{Tool: in.Name, Arguments: in.Arguments, CallID: in.CallID}
	agent := g.opts.Agent
	if g.opts.AgentFunc != nil {
		agent = g.opts.AgentFunc(ctx, call)
	}
	gc := gate.Call{Tool: in.Name, Agent: agent, Args: []byte(in.Arguments)}
	if g.opts.Context != nil {
		gc.Context = g.opts.Context(ctx, call)
	}
	d := gate.Evaluate(g.engine, gc)
	if d.Effect == portcullis.EffectRequireApproval && g.opts.Approve != nil {
		if d, err = g.approve(ctx, call, gc, d); err != nil {
			return "", "", err
		}
	}
	if g.opts.OnDecision != nil {
		g.opts.OnDecision(ctx, call, d)
	}
	if !d.Allowed {
		denied := &portcullis.DeniedError{Tool: in.Name, Decision: d}
		if g.opts.RefusalAsError {
			return "", "", denied
		}
		return "", denied.Error(), nil
	}
	if d.Params == nil {
		return in.Arguments, "", nil
	}
	rewritten, err := json.Marshal(d.Params)
	if err != nil {
		return "", "", fmt.Errorf("portcullis: rewritten arguments of tool %q: %w", in.Name, err)
	}
	return string(rewritten), "", nil
}

func (g *guard) approve(ctx context.Context, call Call, gc gate.Call, d portcullis.Decision) (portcullis.Decision, error) {
	ok, err := g.opts.Approve(ctx, call, d)
	if err != nil || !ok {
		return d, err
	}
	action, err := gate.ActionJSON(gc)
	if err != nil {
		return d, nil
	}
	ttl := g.opts.ApprovalTTL
	if ttl <= 0 {
		ttl = time.Second
	}
	if _, err := g.engine.ApproveJSON(action, ttl, 1); err != nil {
		return d, fmt.Errorf("portcullis: granting the approval for tool %q: %w", call.Tool, err)
	}
	return g.engine.EvaluateJSON(action), nil
}

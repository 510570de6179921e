// Package langchaingo puts a portcullis Engine in front of langchaingo tools:
// every Call is evaluated before the wrapped tool runs.
//
// A langchaingo tool takes one string, so the action for a call is
//
//	{"tool": <tool name>, "agent": {"id": <Options.Agent>}, "params": {"input": <input>}}
//
// and policies address the input as params.input. When an allow rule
// rewrites params.input, the tool receives the rewritten string.
package langchaingo

import (
	"context"
	"fmt"

	"github.com/tmc/langchaingo/tools"

	portcullis "github.com/portcullis/portcullis/bindings/go"
	"github.com/portcullis/portcullis/bindings/go/internal/gate"
)

// Options says who is calling and how refusals are reported.
type Options struct {
	// Agent is the acting agent's id (required: an empty id makes every call
	// an invalid action, which is denied).
	Agent string
	// Context, when set, returns host metadata (session, user, tenant, ...)
	// for the action's context.
	Context func(ctx context.Context) map[string]any
	// RefusalAsObservation makes a refused call return the refusal message
	// as the tool's output with a nil error, so an agent loop goes on and the
	// model can adapt. By default a refused call returns a
	// *portcullis.DeniedError, which stops a langchaingo agent executor.
	RefusalAsObservation bool
	// OnDecision, when set, is called with every decision (for audit or
	// metrics) before the tool runs or the refusal is returned.
	OnDecision func(ctx context.Context, tool string, d portcullis.Decision)
}

// Tool is a langchaingo tool whose calls are checked by an Engine.
type Tool struct {
	inner  tools.Tool
	engine *portcullis.Engine
	opts   Options
}

var _ tools.Tool = (*Tool)(nil)

// Wrap returns tool guarded by engine.
func Wrap(engine *portcullis.Engine, tool tools.Tool, opts Options) *Tool {
	return &Tool{inner: tool, engine: engine, opts: opts}
}

// WrapAll guards every tool of a list, for an agent's tool set.
func WrapAll(engine *portcullis.Engine, list []tools.Tool, opts Options) []tools.Tool {
	out := make([]tools.Tool, len(list))
	for i, t := range list {
		out[i] = Wrap(engine, t, opts)
	}
	return out
}

// Name returns the wrapped tool's name.
func (t *Tool) Name() string { return t.inner.Name() }

// Description returns the wrapped tool's description.
func (t *Tool) Description() string { return t.inner.Description() }

// Call evaluates the call and runs the wrapped tool only when the decision
// allows it, with the input the policy may have rewritten.
func (t *Tool) Call(ctx context.Context, input string) (string, error) {
	name := t.inner.Name()
	var d portcullis.Decision
	if args, err := gate.StringArgs("input", input); err != nil {
		d = gate.Invalid(t.engine, err)
	} else {
		call := gate.Call{Tool: name, Agent: t.opts.Agent, Args: args}
		if t.opts.Context != nil {
			call.Context = t.opts.Context(ctx)
		}
		d = gate.Evaluate(t.engine, call)
	}
	if t.opts.OnDecision != nil {
		t.opts.OnDecision(ctx, name, d)
	}
	if !d.Allowed {
		return t.refuse(name, d)
	}
	if d.Params != nil {
		rewritten, ok := d.Params["input"].(string)
		if !ok {
			// The tool takes one string: a rewrite into anything else
			// cannot be carried out, so the call does not run.
			err := fmt.Errorf("portcullis: the policy rewrote params.input of tool %q to %T; the tool takes a string",
				name, d.Params["input"])
			if t.opts.RefusalAsObservation {
				return err.Error(), nil
			}
			return "", err
		}
		input = rewritten
	}
	return t.inner.Call(ctx, input)
}

func (t *Tool) refuse(name string, d portcullis.Decision) (string, error) {
	err := &portcullis.DeniedError{Tool: name, Decision: d}
	if t.opts.RefusalAsObservation {
		return err.Error(), nil
	}
	return "", err
}

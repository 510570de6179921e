// Package genkit puts a portcullis Engine in front of Genkit for Go tools
// (github.com/firebase/genkit/go): Guard wraps a tool function, DefineTool
// defines a guarded tool in one step.
//
//	pay := genkit.DefineTool(g, engine, pcgenkit.Options{Agent: "assistant-1"}, "pay", "Send a payment", payFn)
//
// The action for a call is {"tool": <tool name>, "agent": {"id": <agent>},
// "params": <the tool input as JSON>} (the input must marshal to a JSON
// object; anything else is an invalid action, which is denied).
//
//   - allow: the tool function runs, with the rewritten input when a modify
//     rule changed it (unmarshalled into the input type);
//   - deny, rate_limit and any other refusal: the function does not run; the
//     tool returns a *portcullis.DeniedError, which ends the generation
//     with that error;
//   - require_approval: the tool interrupts through Genkit's tool interrupt
//     (the response's FinishReason is "interrupted" and the interrupt part's
//     metadata carries ApprovalKey: the action hash). Approve by restarting
//     it with Approval(part): the engine is granted a one-use approval for
//     that exact action and decides again (so deny rules and rate limits
//     still apply). A restart whose approved hash does not match the action
//     about to run (other input, another tool) is refused.
package genkit

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/firebase/genkit/go/ai"
	gk "github.com/firebase/genkit/go/genkit"

	portcullis "github.com/portcullis/portcullis/bindings/go"
	"github.com/portcullis/portcullis/bindings/go/internal/gate"
)

// ApprovalKey is the interrupt (and resume) metadata key that carries the
// hash of the action awaiting approval.
const ApprovalKey = "portcullis/approval"

// DecisionKey is the interrupt metadata key that carries the decision.
const DecisionKey = "portcullis/decision"

// Options says who is calling.
type Options struct {
	// Agent is the acting agent's id (required: an empty id makes every call
	// an invalid action, which is denied).
	Agent string
	// Context, when set, returns host metadata for the action's context.
	Context func(tc *ai.ToolContext) map[string]any
	// ApprovalTTL is the lifetime of the engine approval granted on restart
	// (default one second of the engine's clock; one use).
	ApprovalTTL time.Duration
	// OnDecision, when set, is called with every final decision.
	OnDecision func(tc *ai.ToolContext, tool string, d portcullis.Decision)
}

// Guard wraps fn so that the engine decides each call of tool name first
// (see the package comment).
func Guard[In, Out any](engine *portcullis.Engine, opts Options, name string, fn ai.ToolFunc[In, Out]) ai.ToolFunc[In, Out] {
	return func(tc *ai.ToolContext, input In) (Out, error) {
		var zero Out
		args, err := json.Marshal(input)
		if err != nil {
			args = []byte(`"unrepresentable input"`) // not an object: the engine denies it as invalid
		}
		call := gate.Call{Tool: name, Agent: opts.Agent, Args: args}
		if opts.Context != nil {
			call.Context = opts.Context(tc)
		}
		d := gate.Evaluate(engine, call)
		if d.Effect == portcullis.EffectRequireApproval {
			approved, ok := tc.Resumed[ApprovalKey].(string)
			if !ok {
				meta := map[string]any{ApprovalKey: hashOf(d)}
				if raw, err := json.Marshal(d); err == nil {
					var asMap map[string]any
					if json.Unmarshal(raw, &asMap) == nil {
						meta[DecisionKey] = asMap
					}
				}
				return zero, tc.Interrupt(&ai.InterruptOptions{Metadata: meta})
			}
			if d, err = grant(engine, opts, call, d, approved); err != nil {
				return zero, err
			}
		}
		if opts.OnDecision != nil {
			opts.OnDecision(tc, name, d)
		}
		if !d.Allowed {
			return zero, &portcullis.DeniedError{Tool: name, Decision: d}
		}
		if d.Params != nil {
			var rewritten In
			raw, err := json.Marshal(d.Params)
			if err == nil {
				err = json.Unmarshal(raw, &rewritten)
			}
			if err != nil {
				return zero, fmt.Errorf("portcullis: the policy rewrote the input of tool %q into something its input type cannot hold: %w", name, err)
			}
			input = rewritten
		}
		return fn(tc, input)
	}
}

// grant turns a restart's approval into an engine approval for this exact
// action, and decides again. An approval for another action is ignored.
func grant(engine *portcullis.Engine, opts Options, call gate.Call, d portcullis.Decision, approvedHash string) (portcullis.Decision, error) {
	if hashOf(d) == "" || approvedHash != hashOf(d) {
		return d, nil
	}
	action, err := gate.ActionJSON(call)
	if err != nil {
		return d, nil
	}
	ttl := opts.ApprovalTTL
	if ttl <= 0 {
		ttl = time.Second
	}
	if _, err := engine.ApproveJSON(action, ttl, 1); err != nil {
		return d, fmt.Errorf("portcullis: granting the approval for tool %q: %w", call.Tool, err)
	}
	return engine.EvaluateJSON(action), nil
}

// DefineTool defines a Genkit tool whose calls engine decides: genkit.DefineTool with fn wrapped by Guard.
func DefineTool[In, Out any](g *gk.Genkit, engine *portcullis.Engine, opts Options, name, description string,
	fn ai.ToolFunc[In, Out], toolOpts ...ai.ToolOption) *ai.ToolDef[In, Out] {
	return gk.DefineTool(g, name, description, Guard(engine, opts, name, fn), toolOpts...)
}

// Approval returns the restart part that approves an interrupted call:
// pass it to ai.WithToolRestarts on the next Generate, with the interrupted
// response's messages. It returns nil for a part that is not a portcullis
// approval interrupt.
func Approval(tool ai.Tool, interrupt *ai.Part) *ai.Part {
	if interrupt == nil || !interrupt.IsToolRequest() {
		return nil
	}
	meta, ok := interrupt.Metadata["interrupt"].(map[string]any)
	if !ok {
		return nil
	}
	hash, ok := meta[ApprovalKey].(string)
	if !ok || hash == "" {
		return nil
	}
	return tool.Restart(interrupt, &ai.RestartOptions{ResumedMetadata: map[string]any{ApprovalKey: hash}})
}

func hashOf(d portcullis.Decision) string {
	if d.ActionHash == nil {
		return ""
	}
	return *d.ActionHash
}

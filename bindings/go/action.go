package portcullis

import (
	"time"
)

// Kind is what an action does.
type Kind string

// The kinds of action. The zero Kind means KindToolCall.
const (
	KindToolCall Kind = "tool_call"
	KindMessage  Kind = "message"
	KindResource Kind = "resource"
)

// Agent identifies the acting agent. Its roles come only from the policy's
// registry, never from the action.
type Agent struct {
	ID string `json:"id"`
}

// Action is what an agent asks to do. Tool and Agent.ID are required.
//
// Params and Context hold JSON-like values: nil, bool, string, any Go
// integer or float type, json.Number, json.RawMessage, map[string]any,
// []any, map[string]string and []string are encoded directly; any other
// value goes through encoding/json. A value that is not valid JSON for the
// engine (NaN or ±Inf, invalid UTF-8, nesting deeper than 64 levels, a
// channel or function) makes the action invalid: Evaluate denies it with
// code invalid_action.
type Action struct {
	// Kind defaults to KindToolCall when empty.
	Kind Kind   `json:"kind,omitempty"`
	Tool string `json:"tool"`
	// Agent is the acting agent.
	Agent Agent `json:"agent"`
	// Target is the receiving agent's id for KindMessage; nil when absent.
	Target *string `json:"target,omitempty"`
	// Params are the call's arguments (nil means {}).
	Params map[string]any `json:"params,omitempty"`
	// Context is host metadata (session, user, tenant, ...); nil means {}.
	// It is visible to conditions but not part of the approval hash.
	Context map[string]any `json:"context,omitempty"`
	// Timestamp is informational (audit only, never used for decisions);
	// the zero time means absent.
	Timestamp time.Time `json:"timestamp,omitzero"`
}

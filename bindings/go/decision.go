package portcullis

import "encoding/json"

// Effect is the outcome of a decision.
type Effect string

// The effects a Decision can carry.
const (
	EffectAllow           Effect = "allow"
	EffectDeny            Effect = "deny"
	EffectRequireApproval Effect = "require_approval"
)

// Code says why a decision has its effect.
type Code string

// The codes a Decision can carry.
const (
	// CodeRule: a rule decided (Decision.Rule names it).
	CodeRule Code = "rule"
	// CodeDefault: no deciding rule fired; the policy default applied.
	CodeDefault Code = "default"
	// CodeApproved: a require_approval rule fired and an approval grant
	// covered the action.
	CodeApproved Code = "approved"
	// CodeRateLimited: a rate limit is exhausted (see RetryAfterMs), or a
	// limit's key table is full.
	CodeRateLimited Code = "rate_limited"
	// CodeApprovalRequired: a require_approval rule fired and no grant
	// covers the action.
	CodeApprovalRequired Code = "approval_required"
	// CodeUnknownAgent: the policy requires known agents and this one is not
	// in the registry.
	CodeUnknownAgent Code = "unknown_agent"
	// CodeInvalidAction: the action is malformed; Reason says how.
	CodeInvalidAction Code = "invalid_action"
	// CodeEngineError: the engine could not decide (for example, it was
	// closed); the effect is deny.
	CodeEngineError Code = "engine_error"
	// CodeUnavailable: the decision needed something that could not answer in
	// time (a remote engine, or the shared store of a rate limit or approval
	// grant); the effect is deny.
	CodeUnavailable Code = "unavailable"
)

// ShadowHit is a shadow rule that fired: reported, never deciding.
type ShadowHit struct {
	Rule   string `json:"rule"`
	Effect Effect `json:"effect"`
}

// PolicyInfo names the policy that made a decision.
type PolicyInfo struct {
	Name    string  `json:"name"`
	Version *string `json:"version"`
}

// Decision is the engine's answer for one action. Marshalled with
// encoding/json it is the decision object of the policy language spec.
type Decision struct {
	Effect Effect `json:"effect"`
	// Allowed is true only when Effect is EffectAllow.
	Allowed bool `json:"allowed"`
	Code    Code `json:"code"`
	// Rule is the deciding rule's id; nil for codes default, unknown_agent,
	// invalid_action and engine_error.
	Rule *string `json:"rule"`
	// Reason is the deciding rule's reason, or a sentence saying why.
	Reason string `json:"reason"`
	// Matched lists the non-shadow rules that fired and took part, in
	// document order.
	Matched []string `json:"matched"`
	// Shadow lists the shadow rules that fired, in document order.
	Shadow []ShadowHit `json:"shadow"`
	// Params holds the rewritten params when an allow rule's modify changed
	// them; nil otherwise. Numbers decode as float64 (the engine compares
	// numbers as doubles; integers beyond ±2^53 lose precision: use
	// RawParams to keep the engine's exact text).
	Params map[string]any `json:"params"`
	// RawParams is Params as the engine's JSON text; nil when Params is nil.
	RawParams json.RawMessage `json:"-"`
	// RetryAfterMs is set for rate_limited decisions caused by an exhausted
	// limit: how long until the oldest admission leaves the window.
	RetryAfterMs *uint64 `json:"retry_after_ms"`
	// ActionHash identifies the action for approvals ("sha256:<hex>"); nil
	// for an invalid action.
	ActionHash *string    `json:"action_hash"`
	Policy     PolicyInfo `json:"policy"`
	// EvalNs is the engine's evaluation time in nanoseconds.
	EvalNs uint64 `json:"eval_ns"`
	// Fallback is true only on a decision a RemoteEngine took with its local
	// fallback policy because the remote engine was unavailable.
	Fallback bool `json:"fallback,omitempty"`
}

func validEffect(e Effect) bool {
	switch e {
	case EffectAllow, EffectDeny, EffectRequireApproval:
		return true
	}
	return false
}

func validCode(c Code) bool {
	switch c {
	case CodeRule, CodeDefault, CodeApproved, CodeRateLimited, CodeApprovalRequired,
		CodeUnknownAgent, CodeInvalidAction, CodeEngineError, CodeUnavailable:
		return true
	}
	return false
}

// engineErrorDecision is the fail-closed answer when the engine cannot
// decide.
func engineErrorDecision(reason string) Decision {
	return Decision{
		Effect:  EffectDeny,
		Code:    CodeEngineError,
		Reason:  reason,
		Matched: []string{},
		Shadow:  []ShadowHit{},
	}
}

// Verdict is the part of a decision a host needs to act on it, as
// EvaluateVerdict returns it: no reason, rule lists, params or action hash.
type Verdict struct {
	Effect Effect
	// Allowed is true only when Effect is EffectAllow.
	Allowed bool
	Code    Code
	// Rule is the deciding rule's id; "" when no rule decided.
	Rule string
	// RetryAfterMs is set for rate_limited decisions caused by an exhausted
	// limit, as in Decision.
	RetryAfterMs *uint64
	// ParamsModified is true when an allow rule rewrote the params: the action
	// must run with the rewritten params, which only Decision carries.
	ParamsModified bool
	// MatchedCount and ShadowCount are the lengths of Decision.Matched and
	// Decision.Shadow.
	MatchedCount, ShadowCount int
	// EvalNs is the engine's evaluation time in nanoseconds.
	EvalNs uint64
}

// deniedVerdict is a deny no rule made.
func deniedVerdict(code Code) Verdict {
	return Verdict{Effect: EffectDeny, Code: code}
}

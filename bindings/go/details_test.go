package portcullis

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// detailsPolicy exercises every field of a decision: a reason with escapes,
// rewritten params, a rate limit, an approval, shadow rules of every effect,
// and a policy version.
const detailsPolicy = `{"portcullis": 1, "name": "details-test", "version": "3.1", "default": "deny",
 "rules": [
  {"id": "reads", "effect": "allow", "match": {"tool": ["fs.read", "search"]}, "reason": "reads\nare fine \u00e9"},
  {"id": "search-cap", "effect": "allow", "match": {"tool": ["search"]},
   "modify": {"clamp": {"params.limit": {"max": 10}}}},
  {"id": "search-2", "effect": "rate_limit", "match": {"tool": ["search"]}, "limit": {"max": 2, "window": "10s"}},
  {"id": "no-secrets", "effect": "deny", "match": {"tool": ["fs.read"]},
   "when": {"field": "params.path", "prefix": "/secrets"}},
  {"id": "pay-review", "effect": "require_approval", "match": {"tool": ["pay"]}},
  {"id": "watch-reads", "effect": "deny", "shadow": true, "match": {"tool": ["fs.*"]}},
  {"id": "watch-pay", "effect": "require_approval", "shadow": true, "match": {"tool": ["pay"]}},
  {"id": "watch-search", "effect": "rate_limit", "shadow": true, "match": {"tool": ["search"]},
   "limit": {"max": 1, "window": "1h"}}]}`

// The struct path (portcullis_engine_evaluate_details, which Evaluate and
// EvaluateJSON use) gives exactly the decision the JSON path gives: three
// engines in lockstep, one per path, so stateful decisions are compared too.
func TestDetailsPathEqualsJSONPath(t *testing.T) {
	start := time.UnixMilli(1767225600000)
	var engines [3]*Engine
	for i := range engines {
		e, err := New([]byte(detailsPolicy), WithManualClock(start))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { e.Close() })
		engines[i] = e
	}
	byDetails, byJSON, byVerdict := engines[0], engines[1], engines[2]
	pay := `{"tool": "pay", "agent": {"id": "a1"}, "params": {"amount": 3}}`
	steps := []struct {
		action  string
		approve bool
		code    Code
	}{
		{`{"tool": "fs.read", "agent": {"id": "a1"}, "params": {"path": "/tmp/x"}}`, false, CodeRule},
		{`{"tool": "fs.read", "agent": {"id": "a1"}, "params": {"path": "/secrets/k"}}`, false, CodeRule},
		{`{"tool": "search", "agent": {"id": "a1"}, "params": {"limit": 500, "q": "\u00e9\t", "n": 12345678901234567890}}`, false, CodeRule},
		{`{"tool": "search", "agent": {"id": "a1"}, "params": {"limit": 5}}`, false, CodeRule},
		{`{"tool": "search", "agent": {"id": "a1"}, "params": {"limit": 5}}`, false, CodeRateLimited},
		{pay, false, CodeApprovalRequired},
		{pay, true, ""},
		{pay, false, CodeApproved},
		{`{"tool": "shell", "agent": {"id": "a1"}}`, false, CodeDefault},
		{`{"tool": 5, "agent": {"id": "a1"}}`, false, CodeInvalidAction},
		{`not json`, false, CodeInvalidAction},
	}
	for i, step := range steps {
		if step.approve {
			for _, e := range engines {
				if _, err := e.ApproveJSON([]byte(step.action), time.Minute, 1); err != nil {
					t.Fatal(err)
				}
			}
			continue
		}
		got, err := byDetails.nativeEvaluateDetails([]byte(step.action))
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		want, err := byJSON.nativeEvaluateJSON([]byte(step.action))
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		verdict := byVerdict.EvaluateVerdictJSON([]byte(step.action))
		if got.Code != step.code {
			t.Errorf("step %d: code %s, want %s", i, got.Code, step.code)
		}
		got.EvalNs, want.EvalNs, verdict.EvalNs = 0, 0, 0
		if !reflect.DeepEqual(got, want) {
			t.Errorf("step %d:\n details %+v\n json    %+v", i, got, want)
		}
		gotJSON, _ := json.Marshal(got)
		wantJSON, _ := json.Marshal(want)
		if string(gotJSON) != string(wantJSON) {
			t.Errorf("step %d: marshalled\n details %s\n json    %s", i, gotJSON, wantJSON)
		}
		rule := ""
		if want.Rule != nil {
			rule = *want.Rule
		}
		wantVerdict := Verdict{Effect: want.Effect, Allowed: want.Allowed, Code: want.Code, Rule: rule,
			RetryAfterMs: want.RetryAfterMs, ParamsModified: want.Params != nil,
			MatchedCount: len(want.Matched), ShadowCount: len(want.Shadow)}
		if !reflect.DeepEqual(verdict, wantVerdict) {
			t.Errorf("step %d: verdict %+v, want %+v", i, verdict, wantVerdict)
		}
	}
}

// Decisions of one policy share its name but never a pointer a caller could
// write through; an update shows the new name at once.
func TestPolicyInfoIsFreshAfterUpdate(t *testing.T) {
	e, err := New([]byte(`{"portcullis": 1, "name": "one", "version": "1"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	action := []byte(`{"tool": "t", "agent": {"id": "a"}}`)
	a, b := e.EvaluateJSON(action), e.EvaluateJSON(action)
	if a.Policy.Version == b.Policy.Version || *a.Policy.Version != "1" || *b.Policy.Version != "1" {
		t.Fatalf("versions %v %v", a.Policy.Version, b.Policy.Version)
	}
	*a.Policy.Version = "changed"
	if c := e.EvaluateJSON(action); *c.Policy.Version != "1" || c.Policy.Name != "one" {
		t.Fatalf("got %+v", c.Policy)
	}
	if err := e.UpdatePolicy([]byte(`{"portcullis": 1, "name": "two"}`)); err != nil {
		t.Fatal(err)
	}
	if d := e.EvaluateJSON(action); d.Policy.Name != "two" || d.Policy.Version != nil {
		t.Fatalf("after the update: %+v", d.Policy)
	}
}

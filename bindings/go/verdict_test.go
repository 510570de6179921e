package portcullis_test

import (
	"math"
	"testing"

	portcullis "github.com/portcullis/portcullis/bindings/go"
)

func TestEvaluateVerdict(t *testing.T) {
	e := newEngine(t)
	tests := []struct {
		name   string
		action portcullis.Action
		want   portcullis.Verdict
	}{
		{"allow rule", portcullis.Action{Tool: "fs.read", Agent: portcullis.Agent{ID: "a1"},
			Params: map[string]any{"path": "/data/x"}},
			portcullis.Verdict{Effect: portcullis.EffectAllow, Allowed: true, Code: portcullis.CodeRule, Rule: "allow-read", MatchedCount: 1}},
		{"deny rule", portcullis.Action{Tool: "fs.read", Agent: portcullis.Agent{ID: "a1"},
			Params: map[string]any{"path": "/secrets/k"}},
			portcullis.Verdict{Effect: portcullis.EffectDeny, Code: portcullis.CodeRule, Rule: "no-secrets", MatchedCount: 2}},
		{"rewritten params", portcullis.Action{Tool: "search.web", Agent: portcullis.Agent{ID: "a1"},
			Params: map[string]any{"limit": 500}},
			portcullis.Verdict{Effect: portcullis.EffectAllow, Allowed: true, Code: portcullis.CodeRule, Rule: "allow-search",
				ParamsModified: true, MatchedCount: 1}},
		{"shadow", portcullis.Action{Tool: "echo", Agent: portcullis.Agent{ID: "a1"}, Params: map[string]any{"loud": true}},
			portcullis.Verdict{Effect: portcullis.EffectAllow, Allowed: true, Code: portcullis.CodeRule, Rule: "echo",
				MatchedCount: 1, ShadowCount: 1}},
		{"approval", portcullis.Action{Tool: "payments.send", Agent: portcullis.Agent{ID: "a1"},
			Params: map[string]any{"amount": 500}},
			portcullis.Verdict{Effect: portcullis.EffectRequireApproval, Code: portcullis.CodeApprovalRequired, Rule: "big-pay", MatchedCount: 2}},
		{"default", portcullis.Action{Tool: "email.send", Agent: portcullis.Agent{ID: "a1"}},
			portcullis.Verdict{Effect: portcullis.EffectDeny, Code: portcullis.CodeDefault}},
		{"no agent id", portcullis.Action{Tool: "fs.read"},
			portcullis.Verdict{Effect: portcullis.EffectDeny, Code: portcullis.CodeInvalidAction}},
		{"no JSON form", portcullis.Action{Tool: "fs.read", Agent: portcullis.Agent{ID: "a1"},
			Params: map[string]any{"x": math.NaN()}},
			portcullis.Verdict{Effect: portcullis.EffectDeny, Code: portcullis.CodeInvalidAction}},
	}
	for _, tt := range tests {
		got := e.EvaluateVerdict(tt.action)
		got.EvalNs = 0
		if got.Effect != tt.want.Effect || got.Allowed != tt.want.Allowed || got.Code != tt.want.Code ||
			got.Rule != tt.want.Rule || got.ParamsModified != tt.want.ParamsModified ||
			got.MatchedCount != tt.want.MatchedCount || got.ShadowCount != tt.want.ShadowCount || got.RetryAfterMs != nil {
			t.Errorf("%s: got %+v, want %+v", tt.name, got, tt.want)
		}
		// The verdict says what the full decision says.
		d := e.Evaluate(tt.action)
		if d.Effect != got.Effect || d.Code != got.Code || ruleOf(d) != map[bool]string{true: got.Rule, false: "-"}[got.Rule != ""] {
			t.Errorf("%s: decision %s/%s/%s, verdict %+v", tt.name, d.Effect, d.Code, ruleOf(d), got)
		}
	}
}

func TestEvaluateVerdictRateLimitAndClosed(t *testing.T) {
	e := newEngine(t)
	lookup := portcullis.Action{Tool: "crm.lookup", Agent: portcullis.Agent{ID: "a1"}, Context: map[string]any{"tenant": "acme"}}
	for i := 0; i < 2; i++ {
		if v := e.EvaluateVerdict(lookup); !v.Allowed {
			t.Fatalf("call %d: %+v", i, v)
		}
	}
	v := e.EvaluateVerdict(lookup)
	if v.Code != portcullis.CodeRateLimited || v.Allowed || v.Rule != "crm-2-per-min" || v.RetryAfterMs == nil || *v.RetryAfterMs == 0 {
		t.Fatalf("third call: %+v", v)
	}
	e.Close()
	if v := e.EvaluateVerdict(lookup); v.Allowed || v.Effect != portcullis.EffectDeny || v.Code != portcullis.CodeEngineError {
		t.Fatalf("closed engine: %+v", v)
	}
}

package portcullis_test

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	portcullis "github.com/portcullis/portcullis/bindings/go"
)

const testPolicy = `{
  "portcullis": 1, "name": "unit", "version": "7", "default": "deny",
  "agents": [{"id": "exec-*", "roles": ["executor"]}],
  "rules": [
    {"id": "allow-search", "effect": "allow", "match": {"tool": ["search.*"]},
     "modify": {"set": {"params.safe": true}, "clamp": {"params.limit": {"max": 50}}}},
    {"id": "allow-read", "effect": "allow", "match": {"tool": ["fs.read"]}},
    {"id": "no-secrets", "effect": "deny", "match": {"tool": ["fs.read"]},
     "when": {"field": "params.path", "prefix": "/secrets"}, "reason": "secrets are off limits"},
    {"id": "big-pay", "effect": "require_approval", "match": {"tool": ["payments.send"]},
     "when": {"field": "params.amount", "gt": 100}},
    {"id": "allow-pay", "effect": "allow", "match": {"tool": ["payments.send"]}},
    {"id": "msg-b", "effect": "allow", "match": {"kind": ["message"], "target": ["agent-b"]}},
    {"id": "crm-acme", "effect": "allow", "match": {"tool": ["crm.lookup"]},
     "when": {"field": "context.tenant", "eq": "acme"}},
    {"id": "crm-2-per-min", "effect": "rate_limit", "match": {"tool": ["crm.lookup"]},
     "limit": {"max": 2, "window": "1m"}},
    {"id": "exec-only", "effect": "allow", "match": {"tool": ["shell.exec"], "role": ["executor"]}},
    {"id": "echo", "effect": "allow", "match": {"tool": ["echo"]}},
    {"id": "watch-echo", "effect": "deny", "shadow": true, "match": {"tool": ["echo"]},
     "when": {"field": "params.loud", "eq": true}}
  ]
}`

var start = time.Date(2026, 5, 22, 12, 0, 0, 0, time.UTC)

func newEngine(t testing.TB, opts ...portcullis.Option) *portcullis.Engine {
	t.Helper()
	if len(opts) == 0 {
		opts = []portcullis.Option{portcullis.WithManualClock(start)}
	}
	e, err := portcullis.New([]byte(testPolicy), opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func ptr[T any](v T) *T { return &v }

func ruleOf(d portcullis.Decision) string {
	if d.Rule == nil {
		return "-"
	}
	return *d.Rule
}

func TestEvaluateAction(t *testing.T) {
	e := newEngine(t)
	tests := []struct {
		name   string
		action portcullis.Action
		effect portcullis.Effect
		code   portcullis.Code
		rule   string
	}{
		{"allow rule", portcullis.Action{Tool: "fs.read", Agent: portcullis.Agent{ID: "a1"},
			Params: map[string]any{"path": "/data/x"}}, portcullis.EffectAllow, portcullis.CodeRule, "allow-read"},
		{"deny beats allow", portcullis.Action{Tool: "fs.read", Agent: portcullis.Agent{ID: "a1"},
			Params: map[string]any{"path": "/secrets/key"}}, portcullis.EffectDeny, portcullis.CodeRule, "no-secrets"},
		{"missing param fails closed", portcullis.Action{Tool: "fs.read", Agent: portcullis.Agent{ID: "a1"}},
			portcullis.EffectDeny, portcullis.CodeRule, "no-secrets"},
		{"default deny", portcullis.Action{Tool: "email.send", Agent: portcullis.Agent{ID: "a1"}},
			portcullis.EffectDeny, portcullis.CodeDefault, "-"},
		{"approval required", portcullis.Action{Tool: "payments.send", Agent: portcullis.Agent{ID: "a1"},
			Params: map[string]any{"amount": 500}}, portcullis.EffectRequireApproval, portcullis.CodeApprovalRequired, "big-pay"},
		{"small payment", portcullis.Action{Tool: "payments.send", Agent: portcullis.Agent{ID: "a1"},
			Params: map[string]any{"amount": int64(100)}}, portcullis.EffectAllow, portcullis.CodeRule, "allow-pay"},
		{"message to target", portcullis.Action{Kind: portcullis.KindMessage, Tool: "agent.message",
			Agent: portcullis.Agent{ID: "a1"}, Target: ptr("agent-b")}, portcullis.EffectAllow, portcullis.CodeRule, "msg-b"},
		{"message to other target", portcullis.Action{Kind: portcullis.KindMessage, Tool: "agent.message",
			Agent: portcullis.Agent{ID: "a1"}, Target: ptr("agent-c")}, portcullis.EffectDeny, portcullis.CodeDefault, "-"},
		{"tool_call is not a message", portcullis.Action{Tool: "agent.message",
			Agent: portcullis.Agent{ID: "a1"}, Target: ptr("agent-b")}, portcullis.EffectDeny, portcullis.CodeDefault, "-"},
		{"context condition", portcullis.Action{Tool: "crm.lookup", Agent: portcullis.Agent{ID: "a1"},
			Context: map[string]any{"tenant": "acme"}}, portcullis.EffectAllow, portcullis.CodeRule, "crm-acme"},
		{"context condition false", portcullis.Action{Tool: "crm.lookup", Agent: portcullis.Agent{ID: "a1"},
			Context: map[string]any{"tenant": "other"}}, portcullis.EffectDeny, portcullis.CodeDefault, "-"},
		{"role from the registry", portcullis.Action{Tool: "shell.exec", Agent: portcullis.Agent{ID: "exec-1"}},
			portcullis.EffectAllow, portcullis.CodeRule, "exec-only"},
		{"no role", portcullis.Action{Tool: "shell.exec", Agent: portcullis.Agent{ID: "a1"}},
			portcullis.EffectDeny, portcullis.CodeDefault, "-"},
		{"timestamp is informational", portcullis.Action{Tool: "echo", Agent: portcullis.Agent{ID: "a1"},
			Timestamp: time.Date(2020, 1, 2, 3, 4, 5, 6, time.FixedZone("x", 3600))}, portcullis.EffectAllow, portcullis.CodeRule, "echo"},
		{"bad kind", portcullis.Action{Kind: "rpc", Tool: "echo", Agent: portcullis.Agent{ID: "a1"}},
			portcullis.EffectDeny, portcullis.CodeInvalidAction, "-"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := e.Evaluate(tt.action)
			if d.Effect != tt.effect || d.Code != tt.code || ruleOf(d) != tt.rule {
				t.Fatalf("got %s/%s/%s (%q), want %s/%s/%s", d.Effect, d.Code, ruleOf(d), d.Reason, tt.effect, tt.code, tt.rule)
			}
			if d.Allowed != (tt.effect == portcullis.EffectAllow) {
				t.Errorf("Allowed = %t for effect %s", d.Allowed, d.Effect)
			}
			if d.Policy.Name != "unit" || d.Policy.Version == nil || *d.Policy.Version != "7" {
				t.Errorf("policy = %+v, want unit/7", d.Policy)
			}
		})
	}
}

func TestDecisionFields(t *testing.T) {
	e := newEngine(t)
	d := e.Evaluate(portcullis.Action{Tool: "fs.read", Agent: portcullis.Agent{ID: "a1"},
		Params: map[string]any{"path": "/secrets/k"}})
	if d.Reason != "secrets are off limits" {
		t.Errorf("reason = %q", d.Reason)
	}
	if strings.Join(d.Matched, ",") != "allow-read,no-secrets" {
		t.Errorf("matched = %v", d.Matched)
	}
	if d.ActionHash == nil || !strings.HasPrefix(*d.ActionHash, "sha256:") || len(*d.ActionHash) != 71 {
		t.Errorf("action hash = %v", d.ActionHash)
	}
	if d.Params != nil || d.RawParams != nil || d.RetryAfterMs != nil {
		t.Errorf("params %v raw %s retry %v, want nil", d.Params, d.RawParams, d.RetryAfterMs)
	}

	// Marshalled, a Decision has exactly the keys of the spec's decision object.
	raw, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	var obj map[string]any
	if err := json.Unmarshal(raw, &obj); err != nil {
		t.Fatal(err)
	}
	want := []string{"action_hash", "allowed", "code", "effect", "eval_ns", "matched", "params", "policy",
		"reason", "retry_after_ms", "rule", "shadow"}
	if len(obj) != len(want) {
		t.Errorf("decision JSON keys: %s", raw)
	}
	for _, k := range want {
		if _, ok := obj[k]; !ok {
			t.Errorf("decision JSON lacks %q: %s", k, raw)
		}
	}

	shadowed := e.Evaluate(portcullis.Action{Tool: "echo", Agent: portcullis.Agent{ID: "a1"},
		Params: map[string]any{"loud": true}})
	if !shadowed.Allowed || len(shadowed.Shadow) != 1 || shadowed.Shadow[0] != (portcullis.ShadowHit{Rule: "watch-echo", Effect: portcullis.EffectDeny}) {
		t.Errorf("shadow decision = %+v", shadowed)
	}
}

func TestModifiedParams(t *testing.T) {
	e := newEngine(t)
	d := e.Evaluate(portcullis.Action{Tool: "search.web", Agent: portcullis.Agent{ID: "a1"},
		Params: map[string]any{"q": "go", "limit": 500}})
	if !d.Allowed || d.Rule == nil || *d.Rule != "allow-search" {
		t.Fatalf("decision = %+v", d)
	}
	want := map[string]any{"q": "go", "limit": 50.0, "safe": true}
	if len(d.Params) != 3 || d.Params["q"] != want["q"] || d.Params["limit"] != want["limit"] || d.Params["safe"] != true {
		t.Errorf("params = %v, want %v", d.Params, want)
	}
	var fromRaw map[string]any
	if err := json.Unmarshal(d.RawParams, &fromRaw); err != nil || fromRaw["limit"] != 50.0 {
		t.Errorf("raw params = %s (%v)", d.RawParams, err)
	}

	same := e.Evaluate(portcullis.Action{Tool: "search.web", Agent: portcullis.Agent{ID: "a1"},
		Params: map[string]any{"q": "go", "limit": 5, "safe": true}})
	if !same.Allowed || same.Params != nil {
		t.Errorf("unchanged params reported: %+v", same)
	}
}

// Evaluate(Action) must send the engine exactly what the equivalent JSON
// text says: the approval hash covers tool, agent, kind, target and params.
func TestActionEncodingMatchesJSON(t *testing.T) {
	e := newEngine(t)
	tests := []struct {
		name   string
		action portcullis.Action
		json   string
	}{
		{"scalars", portcullis.Action{Tool: "echo", Agent: portcullis.Agent{ID: "a1"},
			Params: map[string]any{"i": 42, "u": uint64(math.MaxUint32) + 1, "f": 2.5, "f32": float32(0.25), "neg": -7,
				"big": 1e21, "small": 1e-7, "t": true, "n": nil}},
			`{"tool":"echo","agent":{"id":"a1"},"params":{"i":42,"u":4294967296,"f":2.5,"f32":0.25,"neg":-7,"big":1e21,"small":1e-7,"t":true,"n":null}}`},
		{"escapes and unicode", portcullis.Action{Tool: "echo", Agent: portcullis.Agent{ID: "a\"1\\"},
			Params: map[string]any{"s": "line\nbreak\ttab\x01\x1f <&> é 😀 \u2028", "k\"ey": "v"}},
			`{"tool":"echo","agent":{"id":"a\"1\\"},"params":{"s":"line\nbreak\ttab\u0001\u001f <&> \u00e9 \ud83d\ude00 \u2028","k\"ey":"v"}}`},
		{"nested containers", portcullis.Action{Tool: "echo", Agent: portcullis.Agent{ID: "a1"},
			Params: map[string]any{"m": map[string]any{"a": []any{1, "x", []string{"y"}}}, "ms": map[string]string{"k": "v"},
				"num": json.Number("12.50"), "raw": json.RawMessage(` { "r" : [ 1 , 2 ] } `), "empty": map[string]any{}, "none": []any{}}},
			`{"tool":"echo","agent":{"id":"a1"},"params":{"m":{"a":[1,"x",["y"]]},"ms":{"k":"v"},"num":12.5,"raw":{"r":[1,2]},"empty":{},"none":[]}}`},
		{"struct values through encoding/json", portcullis.Action{Tool: "echo", Agent: portcullis.Agent{ID: "a1"},
			Params: map[string]any{"s": struct {
				A int    `json:"a"`
				B string `json:"b,omitempty"`
			}{A: 1}, "p": ptr("x"), "ints": []int{1, 2}}},
			`{"tool":"echo","agent":{"id":"a1"},"params":{"s":{"a":1},"p":"x","ints":[1,2]}}`},
		{"message with target", portcullis.Action{Kind: portcullis.KindMessage, Tool: "echo", Agent: portcullis.Agent{ID: "a1"},
			Target: ptr("b")}, `{"kind":"message","tool":"echo","agent":{"id":"a1"},"target":"b"}`},
		{"context is not hashed", portcullis.Action{Tool: "echo", Agent: portcullis.Agent{ID: "a1"},
			Context: map[string]any{"session": "s"}}, `{"tool":"echo","agent":{"id":"a1"}}`},
		{"empty params equal absent params", portcullis.Action{Tool: "echo", Agent: portcullis.Agent{ID: "a1"},
			Params: map[string]any{}}, `{"tool":"echo","agent":{"id":"a1"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := e.Evaluate(tt.action)
			want := e.EvaluateJSON([]byte(tt.json))
			if want.Code != portcullis.CodeRule || want.ActionHash == nil {
				t.Fatalf("reference JSON not accepted: %+v", want)
			}
			if got.ActionHash == nil || *got.ActionHash != *want.ActionHash {
				t.Errorf("hash %v, want %s (decision %+v)", got.ActionHash, *want.ActionHash, got)
			}
		})
	}
}

func TestEvaluateInvalidActions(t *testing.T) {
	e := newEngine(t)
	cyclic := map[string]any{}
	cyclic["self"] = cyclic
	nest := func(levels int) map[string]any {
		m := map[string]any{}
		for i := 0; i < levels; i++ {
			m = map[string]any{"x": m}
		}
		return m
	}
	tests := []struct {
		name   string
		action portcullis.Action
		reason string
	}{
		{"missing tool", portcullis.Action{Agent: portcullis.Agent{ID: "a1"}}, "tool"},
		{"missing agent", portcullis.Action{Tool: "echo"}, "agent"},
		{"NaN", portcullis.Action{Tool: "echo", Agent: portcullis.Agent{ID: "a1"},
			Params: map[string]any{"x": math.NaN()}}, "params.x: number NaN is not finite"},
		{"infinity deep inside", portcullis.Action{Tool: "echo", Agent: portcullis.Agent{ID: "a1"},
			Params: map[string]any{"a": []any{1, map[string]any{"b": math.Inf(-1)}}}}, "params.a[1].b: number -Inf is not finite"},
		{"invalid UTF-8 value", portcullis.Action{Tool: "echo", Agent: portcullis.Agent{ID: "a1"},
			Params: map[string]any{"x": "ok\xffno"}}, "params.x: string is not valid UTF-8"},
		{"invalid UTF-8 tool", portcullis.Action{Tool: "ec\xc3ho", Agent: portcullis.Agent{ID: "a1"}}, "tool: string is not valid UTF-8"},
		{"invalid UTF-8 key", portcullis.Action{Tool: "echo", Agent: portcullis.Agent{ID: "a1"},
			Context: map[string]any{"\xfe": 1}}, "key is not valid UTF-8"},
		{"channel", portcullis.Action{Tool: "echo", Agent: portcullis.Agent{ID: "a1"},
			Params: map[string]any{"c": make(chan int)}}, "chan int cannot be encoded as JSON"},
		{"panicking MarshalJSON", portcullis.Action{Tool: "echo", Agent: portcullis.Agent{ID: "a1"},
			Params: map[string]any{"p": panicky{}}}, "params.p: portcullis_test.panicky cannot be encoded as JSON: panic in MarshalJSON: boom"},
		{"bad json.Number", portcullis.Action{Tool: "echo", Agent: portcullis.Agent{ID: "a1"},
			Params: map[string]any{"n": json.Number(`1,"tool":"x"`)}}, "is not a JSON number"},
		{"bad json.RawMessage", portcullis.Action{Tool: "echo", Agent: portcullis.Agent{ID: "a1"},
			Params: map[string]any{"r": json.RawMessage(`{"a":`)}}, "not valid JSON"},
		{"cyclic map", portcullis.Action{Tool: "echo", Agent: portcullis.Agent{ID: "a1"}, Params: cyclic}, "nested deeper than 64 levels"},
		{"65 levels", portcullis.Action{Tool: "echo", Agent: portcullis.Agent{ID: "a1"}, Params: nest(63)}, "nested deeper than 64 levels"},
		{"timestamp out of range", portcullis.Action{Tool: "echo", Agent: portcullis.Agent{ID: "a1"},
			Timestamp: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}, "timestamp"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := e.Evaluate(tt.action)
			if d.Effect != portcullis.EffectDeny || d.Code != portcullis.CodeInvalidAction || d.Allowed {
				t.Fatalf("got %s/%s (%q), want deny/invalid_action", d.Effect, d.Code, d.Reason)
			}
			if !strings.Contains(d.Reason, tt.reason) {
				t.Errorf("reason %q does not contain %q", d.Reason, tt.reason)
			}
			if d.ActionHash != nil || d.Rule != nil || d.Policy.Name != "unit" {
				t.Errorf("invalid-action decision = %+v", d)
			}
		})
	}

	// The depth limit is the engine's: 64 levels are fine, both as a value
	// and as text.
	ok := e.Evaluate(portcullis.Action{Tool: "echo", Agent: portcullis.Agent{ID: "a1"}, Params: nest(62)})
	if !ok.Allowed {
		t.Errorf("64 levels denied: %s/%s %q", ok.Effect, ok.Code, ok.Reason)
	}
	text := `{"tool":"echo","agent":{"id":"a1"},"params":` + strings.Repeat(`{"x":`, 63) + `{}` + strings.Repeat(`}`, 63) + `}`
	if d := e.EvaluateJSON([]byte(text)); d.Code != portcullis.CodeInvalidAction {
		t.Errorf("65 levels as text: %s/%s", d.Effect, d.Code)
	}
}

type panicky struct{}

func (panicky) MarshalJSON() ([]byte, error) { panic("boom") }

func TestEvaluateJSONInvalid(t *testing.T) {
	e := newEngine(t)
	for _, text := range []string{"", "{", "null", "[]", `{"tool":"echo","agent":{"id":"a1"},"tool":"echo"}`,
		`{"tool":"echo","agent":{"id":"a1"},"params":[]}`, "\xff"} {
		d := e.EvaluateJSON([]byte(text))
		if d.Effect != portcullis.EffectDeny || d.Code != portcullis.CodeInvalidAction || d.Reason == "" {
			t.Errorf("%q: got %s/%s %q", text, d.Effect, d.Code, d.Reason)
		}
	}
	if d := e.EvaluateJSON(nil); d.Code != portcullis.CodeInvalidAction {
		t.Errorf("nil: got %s/%s", d.Effect, d.Code)
	}
}

func TestPolicyErrors(t *testing.T) {
	tests := []struct {
		name, policy, path, contains string
	}{
		{"not JSON", `{"portcullis": 1,`, "", "line"},
		{"empty", ``, "", ""},
		{"wrong version", `{"portcullis": 2, "name": "p"}`, "portcullis", ""},
		{"unknown operator", `{"portcullis": 1, "name": "p", "rules": [{"id": "r", "effect": "deny", "when": {"field": "tool", "equals": "x"}}]}`,
			"rules[0].when", "equals"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := portcullis.New([]byte(tt.policy))
			if err == nil {
				e.Close()
				t.Fatal("loaded")
			}
			var pe *portcullis.PolicyError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v (%T) is not a *PolicyError", err, err)
			}
			if pe.Path != tt.path || !strings.Contains(pe.Message, tt.contains) {
				t.Errorf("got path %q message %q, want path %q containing %q", pe.Path, pe.Message, tt.path, tt.contains)
			}
			if !strings.Contains(err.Error(), pe.Message) {
				t.Errorf("Error() = %q lacks the message", err.Error())
			}
		})
	}
}

func TestUpdatePolicy(t *testing.T) {
	e := newEngine(t)
	action := portcullis.Action{Tool: "email.send", Agent: portcullis.Agent{ID: "a1"}}
	err := e.UpdatePolicy([]byte(`{"portcullis": 1, "name": "v2", "rules": [{"id": "r", "effect": "nope"}]}`))
	var pe *portcullis.PolicyError
	if !errors.As(err, &pe) || pe.Path != "rules[0].effect" {
		t.Fatalf("bad update: %v", err)
	}
	if d := e.Evaluate(action); d.Policy.Name != "unit" || d.Code != portcullis.CodeDefault || d.Allowed {
		t.Fatalf("after a failed update: %+v", d)
	}
	if err := e.UpdatePolicy([]byte(`{"portcullis": 1, "name": "v2", "default": "allow"}`)); err != nil {
		t.Fatal(err)
	}
	if d := e.Evaluate(action); d.Policy.Name != "v2" || d.Policy.Version != nil || !d.Allowed {
		t.Fatalf("after the update: %+v", d)
	}
}

func TestApprovals(t *testing.T) {
	e := newEngine(t)
	pay := portcullis.Action{Tool: "payments.send", Agent: portcullis.Agent{ID: "a1"}, Params: map[string]any{"amount": 500}}
	first := e.Evaluate(pay)
	if first.Code != portcullis.CodeApprovalRequired {
		t.Fatalf("first: %+v", first)
	}
	hash, err := e.Approve(pay, time.Minute, 1)
	if err != nil {
		t.Fatal(err)
	}
	if hash != *first.ActionHash {
		t.Errorf("Approve hash %s, decision hash %s", hash, *first.ActionHash)
	}
	// context is not part of what is approved
	withContext := pay
	withContext.Context = map[string]any{"session": "s-1"}
	if d := e.Evaluate(withContext); !d.Allowed || d.Code != portcullis.CodeApproved || ruleOf(d) != "big-pay" {
		t.Fatalf("approved: %+v", d)
	}
	if d := e.Evaluate(pay); d.Code != portcullis.CodeApprovalRequired {
		t.Fatalf("single use spent: %+v", d)
	}

	// ApproveHash with the hash from a decision; two uses; expiry by the clock.
	if err := e.ApproveHash(*first.ActionHash, 10*time.Second, 2); err != nil {
		t.Fatal(err)
	}
	if d := e.Evaluate(pay); d.Code != portcullis.CodeApproved {
		t.Fatalf("hash approval: %+v", d)
	}
	if err := e.SetTime(start.Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if d := e.Evaluate(pay); d.Code != portcullis.CodeApprovalRequired {
		t.Fatalf("expired grant used: %+v", d)
	}

	hash2, err := e.ApproveJSON([]byte(`{"params":{"amount":500.0},"agent":{"id":"a1"},"tool":"payments.send"}`), time.Minute, 1)
	if err != nil || hash2 != hash {
		t.Fatalf("ApproveJSON = %q, %v; want %q", hash2, err, hash)
	}
}

func TestApproveErrors(t *testing.T) {
	e := newEngine(t)
	pay := portcullis.Action{Tool: "payments.send", Agent: portcullis.Agent{ID: "a1"}}
	good := "sha256:" + strings.Repeat("ab", 32)
	tests := []struct {
		name string
		call func() error
		want error
	}{
		{"ttl 0", func() error { _, err := e.Approve(pay, 0, 1); return err }, portcullis.ErrInvalidArgument},
		{"ttl under 1ms", func() error { _, err := e.Approve(pay, time.Microsecond, 1); return err }, portcullis.ErrInvalidArgument},
		{"negative ttl", func() error { _, err := e.Approve(pay, -time.Second, 1); return err }, portcullis.ErrInvalidArgument},
		{"uses 0", func() error { _, err := e.Approve(pay, time.Second, 0); return err }, portcullis.ErrInvalidArgument},
		{"negative uses", func() error { _, err := e.Approve(pay, time.Second, -1); return err }, portcullis.ErrInvalidArgument},
		{"uses beyond uint32", func() error { _, err := e.Approve(pay, time.Second, math.MaxUint32+1); return err }, portcullis.ErrInvalidArgument},
		{"invalid action", func() error {
			_, err := e.Approve(portcullis.Action{Agent: portcullis.Agent{ID: "a1"}}, time.Second, 1)
			return err
		}, portcullis.ErrInvalidAction},
		{"unencodable action", func() error {
			_, err := e.Approve(portcullis.Action{Tool: "x", Agent: portcullis.Agent{ID: "a1"}, Params: map[string]any{"f": math.NaN()}}, time.Second, 1)
			return err
		}, portcullis.ErrInvalidAction},
		{"invalid action text", func() error { _, err := e.ApproveJSON([]byte(`{"tool": 1}`), time.Second, 1); return err }, portcullis.ErrInvalidAction},
		{"hash uppercase", func() error { return e.ApproveHash(strings.ToUpper(good), time.Second, 1) }, portcullis.ErrInvalidArgument},
		{"hash short", func() error { return e.ApproveHash("sha256:abc", time.Second, 1) }, portcullis.ErrInvalidArgument},
		{"hash empty", func() error { return e.ApproveHash("", time.Second, 1) }, portcullis.ErrInvalidArgument},
		{"hash ttl 0", func() error { return e.ApproveHash(good, 0, 1) }, portcullis.ErrInvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
	if err := e.ApproveHash(good, time.Second, 1); err != nil {
		t.Errorf("well-formed hash refused: %v", err)
	}
}

func TestClock(t *testing.T) {
	e := newEngine(t)
	now, err := e.Now()
	if err != nil || !now.Equal(start) {
		t.Fatalf("Now = %v, %v; want %v", now, err, start)
	}
	later := start.Add(90*time.Minute + 1500*time.Microsecond)
	if err := e.SetTime(later); err != nil {
		t.Fatal(err)
	}
	if now, _ := e.Now(); !now.Equal(later.Truncate(time.Millisecond)) {
		t.Errorf("Now = %v, want %v", now, later.Truncate(time.Millisecond))
	}

	system, err := portcullis.New([]byte(testPolicy))
	if err != nil {
		t.Fatal(err)
	}
	defer system.Close()
	if err := system.SetTime(start); !errors.Is(err, portcullis.ErrSystemClock) {
		t.Errorf("SetTime on the system clock: %v", err)
	}
	if now, err := system.Now(); err != nil || time.Since(now).Abs() > 5*time.Second {
		t.Errorf("system Now = %v, %v", now, err)
	}
}

func TestRateLimits(t *testing.T) {
	e := newEngine(t)
	lookup := portcullis.Action{Tool: "crm.lookup", Agent: portcullis.Agent{ID: "a1"}, Context: map[string]any{"tenant": "acme"}}
	for i := 0; i < 2; i++ {
		if d := e.Evaluate(lookup); !d.Allowed {
			t.Fatalf("call %d: %+v", i, d)
		}
		e.SetTime(start.Add(time.Duration(i+1) * 10 * time.Second))
	}
	d := e.Evaluate(lookup)
	if d.Code != portcullis.CodeRateLimited || ruleOf(d) != "crm-2-per-min" || d.RetryAfterMs == nil || *d.RetryAfterMs != 40000 {
		t.Fatalf("third call: %+v (retry %v)", d, d.RetryAfterMs)
	}
	if strings.Join(d.Matched, ",") != "crm-acme,crm-2-per-min" {
		t.Errorf("matched = %v", d.Matched)
	}

	// One key per rule: a second agent's key does not fit while the first
	// still has admissions in its window.
	small, err := portcullis.New([]byte(testPolicy), portcullis.WithManualClock(start), portcullis.WithMaxKeysPerLimit(1))
	if err != nil {
		t.Fatal(err)
	}
	defer small.Close()
	if d := small.Evaluate(lookup); !d.Allowed {
		t.Fatalf("first key: %+v", d)
	}
	other := lookup
	other.Agent.ID = "a2"
	if d := small.Evaluate(other); d.Code != portcullis.CodeRateLimited || d.Allowed {
		t.Fatalf("second key: %+v", d)
	}
}

func TestOptionErrors(t *testing.T) {
	for _, n := range []int{0, -1} {
		if _, err := portcullis.New([]byte(testPolicy), portcullis.WithMaxKeysPerLimit(n)); !errors.Is(err, portcullis.ErrInvalidArgument) {
			t.Errorf("WithMaxKeysPerLimit(%d): %v", n, err)
		}
	}
}

func TestClosedEngineFailsClosed(t *testing.T) {
	e, err := portcullis.New([]byte(`{"portcullis": 1, "name": "open", "default": "allow"}`), portcullis.WithManualClock(start))
	if err != nil {
		t.Fatal(err)
	}
	action := portcullis.Action{Tool: "echo", Agent: portcullis.Agent{ID: "a1"}}
	if d := e.Evaluate(action); !d.Allowed {
		t.Fatalf("before Close: %+v", d)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	for _, d := range []portcullis.Decision{e.Evaluate(action), e.EvaluateJSON([]byte(`{"tool":"echo","agent":{"id":"a1"}}`))} {
		if d.Allowed || d.Effect != portcullis.EffectDeny || d.Code != portcullis.CodeEngineError || !strings.Contains(d.Reason, "closed") {
			t.Errorf("after Close: %+v", d)
		}
	}
	if err := e.UpdatePolicy([]byte(testPolicy)); !errors.Is(err, portcullis.ErrClosed) {
		t.Errorf("UpdatePolicy: %v", err)
	}
	if _, err := e.Approve(action, time.Second, 1); !errors.Is(err, portcullis.ErrClosed) {
		t.Errorf("Approve: %v", err)
	}
	if err := e.ApproveHash("sha256:"+strings.Repeat("0", 64), time.Second, 1); !errors.Is(err, portcullis.ErrClosed) {
		t.Errorf("ApproveHash: %v", err)
	}
	if err := e.SetTime(start); !errors.Is(err, portcullis.ErrClosed) {
		t.Errorf("SetTime: %v", err)
	}
	if _, err := e.Now(); !errors.Is(err, portcullis.ErrClosed) {
		t.Errorf("Now: %v", err)
	}
}

func TestNativeVersion(t *testing.T) {
	if v := portcullis.NativeVersion(); v == "" {
		t.Error("empty native version")
	}
}

package portcullis

import (
	"encoding/json"
	"math"
	"reflect"
	"testing"
)

func strPtr(s string) *string { return &s }

// roundTrip marshals d with encoding/json and parses it back.
func roundTrip(t *testing.T, d Decision) Decision {
	t.Helper()
	raw, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeDecision(raw)
	if err != nil {
		t.Fatalf("decodeDecision(%s): %v", raw, err)
	}
	if d.Params != nil {
		d.RawParams = got.RawParams // encoding/json does not marshal RawParams
	}
	if !reflect.DeepEqual(got, d) {
		t.Fatalf("decoded %+v\n  want %+v\n  from %s", got, d, raw)
	}
	return got
}

func TestDecodeDecisionRoundTrip(t *testing.T) {
	retry := uint64(30000)
	roundTrip(t, Decision{
		Effect: EffectDeny, Code: CodeRateLimited, Rule: strPtr("limit"), Reason: "at most 2 a minute",
		Matched: []string{"a", "limit"}, Shadow: []ShadowHit{{Rule: "s", Effect: EffectRequireApproval}},
		RetryAfterMs: &retry, ActionHash: strPtr("sha256:00ff"),
		Policy: PolicyInfo{Name: "p", Version: strPtr("v1")}, EvalNs: 1 << 40,
	})
	roundTrip(t, Decision{
		Effect: EffectAllow, Allowed: true, Code: CodeRule, Rule: strPtr("ünïcode \"quoted\" <tag> & \\ \u2028 😀 \x01"),
		Reason: "line\nbreak\ttab", Matched: []string{}, Shadow: []ShadowHit{},
		Params: map[string]any{"limit": 50.0, "nested": map[string]any{"a": []any{true, nil, "x"}}},
		Policy: PolicyInfo{Name: "p"},
	})
	roundTrip(t, Decision{Effect: EffectDeny, Code: CodeInvalidAction, Reason: "x", Matched: []string{}, Shadow: []ShadowHit{}})
}

func TestDecodeDecisionSyntax(t *testing.T) {
	// Whitespace, escapes serde_json may write, and keys a later minor
	// version may add.
	text := " {\n \"effect\" : \"allow\", \"allowed\":true ,\"code\":\"default\",\"rule\":null," +
		`"reason":"caf\u00e9 \ud83d\ude00 \/ \b\f\r","matched":[ ],"shadow":[{"rule":"r","effect":"deny","extra":[1]}],` +
		`"params":{"a":[1,2.5e3,-0.1,{"b":"}"}]},"retry_after_ms":null,"action_hash":null,` +
		`"policy":{"name":"p","version":null,"future":{}},"eval_ns":7,"future":[null,true,false,"x",{"y":-1E-2}]} `
	d, err := decodeDecision([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if d.Reason != "café 😀 / \b\f\r" || len(d.Shadow) != 1 || d.Shadow[0].Rule != "r" ||
		string(d.RawParams) != `{"a":[1,2.5e3,-0.1,{"b":"}"}]}` || d.Params["a"].([]any)[1] != 2500.0 ||
		d.Policy.Name != "p" || d.EvalNs != 7 || !d.Allowed {
		t.Fatalf("decoded %+v", d)
	}
	for _, bad := range []string{
		`{"effect":"allow","allowed":true}`,
		`{"effect":"allow","allowed":true,"code":"rule"} x`,
		`{"effect":"allow","allowed":true,"code":"rule","reason":"\ud800"}`,
		`{"effect":"allow","allowed":true,"code":"rule","reason":"\x"}`,
		`{"effect":"allow","allowed":true,"code":"rule","reason":"` + "\x01" + `"}`,
		`{"effect":"allow","allowed":true,"code":"rule","reason":"` + "\xff" + `"}`,
		`{"effect":"allow","allowed":true,"code":"rule","eval_ns":-1}`,
		`{"effect":"allow","allowed":true,"code":"rule","matched":["a",]}`,
		`{"effect":"allow","allowed":true,"code":"rule","extra":01}`,
		`{"effect":"allow","allowed":yes,"code":"rule"}`,
		`{"effect":"allow","allowed":true,"code":"rule"`,
	} {
		if _, err := decodeDecision([]byte(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

// Whatever encoding/json writes for a Decision, the decoder reads back.
func FuzzDecodeDecisionRoundTrip(f *testing.F) {
	f.Add("rule-1", "because", "policy", "v", uint64(5), true, "matched", "k", 1.5)
	f.Add("", "\x00\xff<>&\u2028", "", "", uint64(0), false, "\"", "", -0.0)
	f.Fuzz(func(t *testing.T, rule, reason, name, version string, n uint64, flag bool, matched, key string, num float64) {
		d := Decision{Effect: EffectAllow, Allowed: true, Code: CodeRule, Rule: &rule, Reason: reason,
			Matched: []string{matched, rule}, Shadow: []ShadowHit{{Rule: matched, Effect: EffectDeny}},
			Policy: PolicyInfo{Name: name, Version: &version}, EvalNs: n}
		if flag {
			d.RetryAfterMs, d.ActionHash = &n, &key
			d.Params = map[string]any{key: num, "s": reason}
		}
		if flag && (math.IsNaN(num) || math.IsInf(num, 0)) {
			d.Params[key] = 0.0 // not JSON; the engine never writes it
		}
		raw, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		want := Decision{Matched: []string{}, Shadow: []ShadowHit{}}
		if err := json.Unmarshal(raw, &want); err != nil {
			t.Fatal(err)
		}
		got, err := decodeDecision(raw)
		if err != nil {
			t.Fatalf("decodeDecision(%s): %v", raw, err)
		}
		got.RawParams = nil
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("decoded %+v\n  want %+v\n  from %s", got, want, raw)
		}
	})
}

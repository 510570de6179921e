package portcullis

import (
	"encoding/json"
	"testing"
)

// ExplainJSON traces the decision and is a dry run: a limit of one is still
// available after explaining twice.
func TestExplainJSONIsADryRun(t *testing.T) {
	policy := []byte(`{"portcullis": 1, "name": "x", "rules": [
		{"id": "reads", "effect": "allow", "match": {"tool": ["fs.read"]}},
		{"id": "once", "effect": "rate_limit", "match": {"tool": ["fs.read"]}, "limit": {"max": 1, "window": "1m"}}]}`)
	e, err := New(policy)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	action := []byte(`{"tool": "fs.read", "agent": {"id": "a1"}}`)
	for i := 0; i < 2; i++ {
		text, err := e.ExplainJSON(action)
		if err != nil {
			t.Fatal(err)
		}
		var v struct {
			DryRun   bool `json:"dry_run"`
			Decision struct {
				Effect string `json:"effect"`
			} `json:"decision"`
		}
		if err := json.Unmarshal([]byte(text), &v); err != nil {
			t.Fatal(err)
		}
		if !v.DryRun || v.Decision.Effect != "allow" {
			t.Fatalf("explanation %s", text)
		}
	}
	if d := e.EvaluateJSON(action); d.Effect != EffectAllow {
		t.Fatalf("explain used the limit: %+v", d)
	}
}

package portcullis_test

import (
	"encoding/json"
	"math"
	"testing"
	"unicode/utf8"

	portcullis "github.com/portcullis/portcullis/bindings/go"
)

const openPolicy = `{"portcullis": 1, "name": "open", "default": "allow"}`

// Any text given to EvaluateJSON gets a well-formed decision; text that is
// not an action is denied as invalid_action, never allowed.
func FuzzEvaluateJSON(f *testing.F) {
	for _, seed := range []string{
		`{"tool":"t","agent":{"id":"a"}}`,
		`{"tool":"t","agent":{"id":"a"},"params":{"x":[1,2,{"y":null}]},"kind":"message","target":"b"}`,
		`{"tool":"t","agent":{"id":"a"},"tool":"u"}`,
		`{"tool":"t","agent":{"id":"a"},"params":{"n":1e999}}`,
		`{"tool":"\ud800","agent":{"id":"a"}}`,
		`{"tool":"t","agent":{"id":"a"},"timestamp":"yesterday"}`,
		`[`, ``, `null`, "\xff\xfe",
	} {
		f.Add([]byte(seed))
	}
	e, err := portcullis.New([]byte(openPolicy))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { e.Close() })
	f.Fuzz(func(t *testing.T, text []byte) {
		d := e.EvaluateJSON(text)
		switch {
		case d.Allowed != (d.Effect == portcullis.EffectAllow):
			t.Fatalf("inconsistent decision %+v", d)
		case d.Code == portcullis.CodeInvalidAction && (d.Allowed || d.ActionHash != nil):
			t.Fatalf("invalid action allowed or hashed: %+v", d)
		case d.Allowed && !json.Valid(text):
			t.Fatalf("text that is not JSON allowed: %q", text)
		case d.Code != portcullis.CodeDefault && d.Code != portcullis.CodeInvalidAction:
			t.Fatalf("unexpected code %s for %q", d.Code, text)
		}
	})
}

// Evaluate(Action) sends what encoding/json would, whenever encoding/json
// is faithful (valid UTF-8, finite numbers): both give the same action hash.
// Where encoding/json would change or refuse a value, Evaluate denies the
// action as invalid instead.
func FuzzActionEncoding(f *testing.F) {
	f.Add("search.web", "agent-1", "q", "hello \"world\"\n", 1.5, int64(-3), "tenant", true)
	f.Add("t", "a", "", "\x00\x1f\u2028😀", 1e300, int64(math.MaxInt64), "", false)
	f.Add("t", "a", "k", "bad \xff", math.Inf(1), int64(0), "c", true)
	f.Add("", "a", "k", "v", 0.0, int64(1), "c", false)
	e, err := portcullis.New([]byte(openPolicy))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { e.Close() })
	f.Fuzz(func(t *testing.T, tool, agent, key, value string, num float64, n int64, ctxKey string, flag bool) {
		a := portcullis.Action{
			Tool:    tool,
			Agent:   portcullis.Agent{ID: agent},
			Params:  map[string]any{key: value, key + ".n": num, key + ".i": n, "nested": []any{value, map[string]any{"b": flag}}},
			Context: map[string]any{ctxKey: value},
		}
		got := e.Evaluate(a)
		faithful := utf8.ValidString(tool) && utf8.ValidString(agent) && utf8.ValidString(key) &&
			utf8.ValidString(value) && utf8.ValidString(ctxKey) && !math.IsNaN(num) && !math.IsInf(num, 0)
		if !faithful {
			if got.Code != portcullis.CodeInvalidAction || got.Allowed {
				t.Fatalf("unfaithful value not refused: %+v", got)
			}
			return
		}
		text, err := json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		want := e.EvaluateJSON(text)
		if got.Code != want.Code || got.Allowed != want.Allowed {
			t.Fatalf("Evaluate %s/%s (%q), EvaluateJSON %s/%s (%q) for %s", got.Effect, got.Code, got.Reason,
				want.Effect, want.Code, want.Reason, text)
		}
		if (got.ActionHash == nil) != (want.ActionHash == nil) || (got.ActionHash != nil && *got.ActionHash != *want.ActionHash) {
			t.Fatalf("hash %v, want %v for %s", got.ActionHash, want.ActionHash, text)
		}
	})
}

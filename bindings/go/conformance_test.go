package portcullis_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	portcullis "github.com/portcullis/portcullis/bindings/go"
)

// The conformance runner replays every case of tests/conformance (or of
// $PORTCULLIS_CONFORMANCE_DIR, recursively) through the public API.
//
// An eval step's action goes through EvaluateJSON with the case's own JSON
// text, compacted: decoding it into an Action would drop what a struct
// cannot hold (unknown keys such as agent.roles, duplicate keys, values of
// the wrong type), and those are exactly what some cases test. Evaluate
// with an Action is covered by the unit tests in engine_test.go.

const defaultClock = "2026-01-01T00:00:00Z"

type confCase struct {
	Name        string            `json:"name"`
	Policy      json.RawMessage   `json:"policy"`
	PolicyRaw   *string           `json:"policy_raw"`
	Clock       *string           `json:"clock"`
	Steps       []json.RawMessage `json:"steps"`
	ExpectError *expectError      `json:"expect_error"`
}

type expectError struct {
	Path     *string `json:"path"`
	Contains *string `json:"contains"`
}

func conformanceDir() string {
	if dir := os.Getenv("PORTCULLIS_CONFORMANCE_DIR"); dir != "" {
		return dir
	}
	return filepath.Join("..", "..", "tests", "conformance")
}

func TestConformance(t *testing.T) {
	dir := conformanceDir()
	var files []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(d.Name(), ".json") {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("reading conformance cases: %v", err)
	}
	sort.Strings(files)

	passed, failed := 0, 0
	for _, file := range files {
		cases, err := loadCases(file)
		if err != nil {
			fmt.Printf("FAIL %s: %v\n", file, err)
			failed++
			continue
		}
		for i, c := range cases {
			label := file
			if len(cases) > 1 {
				label = fmt.Sprintf("%s[%d]", file, i)
			}
			if problems := runCase(c); len(problems) > 0 {
				failed++
				for _, p := range problems {
					fmt.Printf("FAIL %s (%s) %s\n", label, c.Name, p)
				}
			} else {
				passed++
			}
		}
	}
	fmt.Printf("%d passed, %d failed\n", passed, failed)
	if failed > 0 {
		t.Errorf("%d conformance cases failed", failed)
	}
	if passed+failed == 0 {
		t.Errorf("no conformance case found in %s", dir)
	}
}

func loadCases(file string) ([]confCase, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) > 0 && trimmed[0] == '[' {
		var cases []confCase
		if err := json.Unmarshal(trimmed, &cases); err != nil {
			return nil, fmt.Errorf("not a case array: %v", err)
		}
		return cases, nil
	}
	var c confCase
	if err := json.Unmarshal(trimmed, &c); err != nil {
		return nil, fmt.Errorf("not a case: %v", err)
	}
	return []confCase{c}, nil
}

func compact(raw json.RawMessage) []byte {
	var out bytes.Buffer
	if err := json.Compact(&out, raw); err != nil {
		return raw // invalid text is sent as is; the engine rejects it
	}
	return out.Bytes()
}

// runCase returns one message per failing step (empty when the case passes).
func runCase(c confCase) []string {
	var policy []byte
	switch {
	case c.PolicyRaw != nil:
		policy = []byte(*c.PolicyRaw)
	case c.Policy != nil:
		policy = compact(c.Policy)
	default:
		return []string{"case has neither policy nor policy_raw"}
	}
	clockText := defaultClock
	if c.Clock != nil {
		clockText = *c.Clock
	}
	clock, err := time.Parse(time.RFC3339Nano, clockText)
	if err != nil {
		return []string{fmt.Sprintf("bad clock %q: %v", clockText, err)}
	}

	engine, err := portcullis.New(policy, portcullis.WithManualClock(clock))
	if c.ExpectError != nil {
		if err == nil {
			engine.Close()
			return []string{"policy: loaded, want a load error"}
		}
		if msg := checkError(err, c.ExpectError); msg != "" {
			return []string{"policy: " + msg}
		}
		if len(c.Steps) > 0 {
			return []string{"case has both expect_error and steps"}
		}
		return nil
	}
	if err != nil {
		return []string{fmt.Sprintf("policy: %v", err)}
	}
	defer engine.Close()

	// A case without steps checks only that its policy loads.
	var problems []string
	for i, raw := range c.Steps {
		if msg := runStep(engine, raw); msg != "" {
			problems = append(problems, fmt.Sprintf("step %d: %s", i, msg))
		}
	}
	return problems
}

func checkError(err error, want *expectError) string {
	var pe *portcullis.PolicyError
	path, message := "", err.Error()
	if errors.As(err, &pe) {
		path, message = pe.Path, pe.Message
	} else if want.Path != nil {
		return fmt.Sprintf("got %v, want a policy error at %q", err, *want.Path)
	}
	if want.Path != nil && path != *want.Path {
		return fmt.Sprintf("error path %q, want %q (message %q)", path, *want.Path, message)
	}
	if want.Contains != nil && !strings.Contains(message, *want.Contains) {
		return fmt.Sprintf("error message %q does not contain %q", message, *want.Contains)
	}
	return ""
}

func runStep(engine *portcullis.Engine, raw json.RawMessage) string {
	var step map[string]json.RawMessage
	if err := json.Unmarshal(raw, &step); err != nil {
		return fmt.Sprintf("step is not an object: %v", err)
	}
	var wantErr *expectError
	if v, ok := step["expect_error"]; ok {
		if err := json.Unmarshal(v, &wantErr); err != nil {
			return fmt.Sprintf("bad expect_error: %v", err)
		}
	}
	// result reports err against expect_error.
	result := func(what string, err error) string {
		switch {
		case wantErr == nil && err != nil:
			return fmt.Sprintf("%s: %v", what, err)
		case wantErr != nil && err == nil:
			return what + ": succeeded, want an error"
		case wantErr != nil:
			if msg := checkError(err, wantErr); msg != "" {
				return what + ": " + msg
			}
		}
		return ""
	}

	switch {
	case step["eval"] != nil:
		return checkDecision(engine.EvaluateJSON(compact(step["eval"])), step["expect"])
	case step["eval_raw"] != nil:
		var text string
		if err := json.Unmarshal(step["eval_raw"], &text); err != nil {
			return "eval_raw is not a string"
		}
		return checkDecision(engine.EvaluateJSON([]byte(text)), step["expect"])
	case step["advance_ms"] != nil:
		var ms int64
		if err := json.Unmarshal(step["advance_ms"], &ms); err != nil {
			return "advance_ms is not an integer"
		}
		now, err := engine.Now()
		if err != nil {
			return fmt.Sprintf("now: %v", err)
		}
		return result("advance_ms", engine.SetTime(now.Add(time.Duration(ms)*time.Millisecond)))
	case step["set_clock"] != nil:
		var text string
		if err := json.Unmarshal(step["set_clock"], &text); err != nil {
			return "set_clock is not a string"
		}
		at, err := time.Parse(time.RFC3339Nano, text)
		if err != nil {
			return fmt.Sprintf("bad set_clock %q", text)
		}
		return result("set_clock", engine.SetTime(at))
	case step["approve"] != nil:
		ttlMs, uses := uint64(0), int64(1)
		if v, ok := step["ttl_ms"]; ok {
			if err := json.Unmarshal(v, &ttlMs); err != nil {
				return "ttl_ms is not a non-negative integer"
			}
		}
		if v, ok := step["uses"]; ok {
			if err := json.Unmarshal(v, &uses); err != nil {
				return "uses is not an integer"
			}
		}
		ttl := time.Duration(math.MaxInt64)
		if ttlMs < uint64(math.MaxInt64/int64(time.Millisecond)) {
			ttl = time.Duration(ttlMs) * time.Millisecond
		}
		_, err := engine.ApproveJSON(compact(step["approve"]), ttl, int(uses))
		return result("approve", err)
	case step["update_policy"] != nil:
		return result("update_policy", engine.UpdatePolicy(compact(step["update_policy"])))
	case step["update_policy_raw"] != nil:
		var text string
		if err := json.Unmarshal(step["update_policy_raw"], &text); err != nil {
			return "update_policy_raw is not a string"
		}
		return result("update_policy_raw", engine.UpdatePolicy([]byte(text)))
	}
	keys := make([]string, 0, len(step))
	for k := range step {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return fmt.Sprintf("unknown step kind (keys %v)", keys)
}

// checkDecision compares the keys given in expect with the decision.
func checkDecision(d portcullis.Decision, expectRaw json.RawMessage) string {
	if expectRaw == nil {
		return ""
	}
	var expect map[string]any
	if err := json.Unmarshal(expectRaw, &expect); err != nil {
		return fmt.Sprintf("expect is not an object: %v", err)
	}
	actualJSON, err := json.Marshal(d)
	if err != nil {
		return fmt.Sprintf("decision does not marshal: %v", err)
	}
	var actual map[string]any
	if err := json.Unmarshal(actualJSON, &actual); err != nil {
		return fmt.Sprintf("decision does not unmarshal: %v", err)
	}

	keys := make([]string, 0, len(expect))
	for k := range expect {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var problems []string
	for _, key := range keys {
		want := expect[key]
		switch key {
		case "reason_contains":
			sub, _ := want.(string)
			if !strings.Contains(d.Reason, sub) {
				problems = append(problems, fmt.Sprintf("reason %q does not contain %q", d.Reason, sub))
			}
		case "policy":
			wantPolicy, ok := want.(map[string]any)
			if !ok {
				problems = append(problems, "expect.policy is not an object")
				continue
			}
			gotPolicy, _ := actual["policy"].(map[string]any)
			for pk, pv := range wantPolicy {
				if !reflect.DeepEqual(gotPolicy[pk], pv) {
					problems = append(problems, fmt.Sprintf("policy.%s: got %s, want %s", pk, show(gotPolicy[pk]), show(pv)))
				}
			}
		case "effect", "allowed", "code", "rule", "reason", "matched", "shadow", "params",
			"retry_after_ms", "action_hash", "eval_ns":
			if got := actual[key]; !reflect.DeepEqual(got, want) {
				problems = append(problems, fmt.Sprintf("%s: got %s, want %s", key, show(got), show(want)))
			}
		default:
			problems = append(problems, fmt.Sprintf("unknown expect key %q", key))
		}
	}
	if len(problems) > 0 {
		return strings.Join(problems, "; ") + fmt.Sprintf(" (reason %q)", d.Reason)
	}
	return ""
}

func show(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%v", v)
	}
	return string(b)
}

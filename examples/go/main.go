// Command demo evaluates every action of a demo file against a policy with
// the Go binding and prints one line per decision.
//
//	go run . ../demo-policy.json ../demo-actions.json
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"

	portcullis "github.com/portcullis/portcullis/bindings/go"
)

type demoAction struct {
	Label  string          `json:"label"`
	Action json.RawMessage `json:"action"`
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintf(os.Stderr, "usage: %s POLICY.json ACTIONS.json\n", os.Args[0])
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(policyPath, actionsPath string) error {
	policy, err := os.ReadFile(policyPath)
	if err != nil {
		return err
	}
	engine, err := portcullis.New(policy)
	if err != nil {
		return fmt.Errorf("%s: %w", policyPath, err)
	}
	defer engine.Close()

	text, err := os.ReadFile(actionsPath)
	if err != nil {
		return err
	}
	var actions []demoAction
	if err := json.Unmarshal(text, &actions); err != nil {
		return fmt.Errorf("%s: %w", actionsPath, err)
	}

	fmt.Println("== Go ==")
	for _, item := range actions {
		d := evaluate(engine, item.Action)
		rule := "-"
		if d.Rule != nil {
			rule = *d.Rule
		}
		fmt.Printf("  %-38s %-17s %-18s %s\n", item.Label, d.Effect, d.Code, rule)
	}
	return nil
}

// evaluate sends the action as a Go value, the way a host would. Text that
// does not fit an Action (a field of the wrong type, say) goes to the engine
// as it is, so the engine says what is wrong with it.
func evaluate(engine *portcullis.Engine, raw json.RawMessage) portcullis.Decision {
	var action portcullis.Action
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber() // keep numbers exactly as written
	if err := dec.Decode(&action); err != nil {
		return engine.EvaluateJSON(raw)
	}
	return engine.Evaluate(action)
}

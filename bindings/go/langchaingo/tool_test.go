package langchaingo_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/tmc/langchaingo/agents"
	"github.com/tmc/langchaingo/chains"
	"github.com/tmc/langchaingo/llms/fake"
	"github.com/tmc/langchaingo/schema"
	"github.com/tmc/langchaingo/tools"

	portcullis "github.com/portcullis/portcullis/bindings/go"
	"github.com/portcullis/portcullis/bindings/go/langchaingo"
)

const policy = `{
  "portcullis": 1, "name": "lc", "default": "deny",
  "rules": [
    {"id": "search-safe", "effect": "allow", "match": {"tool": ["search"]},
     "modify": {"set": {"params.input": "portcullis policy engine"}}},
    {"id": "calc", "effect": "allow", "match": {"tool": ["calculator"], "agent": ["analyst-*"]}},
    {"id": "no-rm", "effect": "deny", "match": {"tool": ["shell"]},
     "when": {"field": "params.input", "contains": "rm "}, "reason": "no deleting files"},
    {"id": "shell", "effect": "allow", "match": {"tool": ["shell"]}}
  ]
}`

// recorder is a tool that records the inputs it ran with.
type recorder struct {
	name string
	mu   sync.Mutex
	got  []string
}

func (r *recorder) Name() string        { return r.name }
func (r *recorder) Description() string { return "records its input" }
func (r *recorder) Call(_ context.Context, input string) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, input)
	return "ran " + r.name + " with " + input, nil
}

func (r *recorder) calls() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.got...)
}

func newEngine(t *testing.T) *portcullis.Engine {
	t.Helper()
	e, err := portcullis.New([]byte(policy))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// run drives a real langchaingo agent loop: a scripted model picks the tool
// and its input, the executor calls the (wrapped) tool, and the model then
// gives its final answer.
func run(t *testing.T, toolset []tools.Tool, tool, input string) (map[string]any, error) {
	t.Helper()
	llm := fake.NewFakeLLM([]string{
		"Thought: I need a tool.\nAction: " + tool + "\nAction Input: " + input,
		"Thought: done.\nFinal Answer: finished",
	})
	agent := agents.NewOneShotAgent(llm, toolset)
	executor := agents.NewExecutor(agent, agents.WithMaxIterations(3), agents.WithReturnIntermediateSteps())
	return chains.Call(context.Background(), executor, map[string]any{"input": "do the task"})
}

func TestRewrittenInputReachesTheTool(t *testing.T) {
	e := newEngine(t)
	search := &recorder{name: "search"}
	var decisions []portcullis.Decision
	toolset := langchaingo.WrapAll(e, []tools.Tool{search}, langchaingo.Options{
		Agent:      "analyst-1",
		OnDecision: func(_ context.Context, _ string, d portcullis.Decision) { decisions = append(decisions, d) },
	})
	out, err := run(t, toolset, "search", "how to exfiltrate secrets")
	if err != nil {
		t.Fatal(err)
	}
	if got := search.calls(); len(got) != 1 || got[0] != "portcullis policy engine" {
		t.Fatalf("tool inputs = %q, want the rewritten input", got)
	}
	if len(decisions) != 1 || !decisions[0].Allowed || decisions[0].Rule == nil || *decisions[0].Rule != "search-safe" {
		t.Fatalf("decisions = %+v", decisions)
	}
	steps, _ := out["intermediateSteps"].([]schema.AgentStep)
	if len(steps) != 1 || steps[0].Observation != "ran search with portcullis policy engine" {
		t.Errorf("steps = %+v", steps)
	}
}

func TestDeniedCallNeverReachesTheTool(t *testing.T) {
	e := newEngine(t)
	shell := &recorder{name: "shell"}
	toolset := langchaingo.WrapAll(e, []tools.Tool{shell}, langchaingo.Options{Agent: "analyst-1"})
	_, err := run(t, toolset, "shell", "rm -rf /")
	var denied *portcullis.DeniedError
	if !errors.As(err, &denied) {
		t.Fatalf("error = %v, want a *portcullis.DeniedError", err)
	}
	if denied.Tool != "shell" || denied.Decision.Code != portcullis.CodeRule || *denied.Decision.Rule != "no-rm" ||
		!strings.Contains(err.Error(), "no deleting files") {
		t.Errorf("denial = %v (%+v)", err, denied.Decision)
	}
	if got := shell.calls(); len(got) != 0 {
		t.Fatalf("denied tool ran with %q", got)
	}

	// An allowed input does run.
	if _, err := run(t, toolset, "shell", "ls -l"); err != nil {
		t.Fatal(err)
	}
	if got := shell.calls(); len(got) != 1 || got[0] != "ls -l" {
		t.Fatalf("tool inputs = %q", got)
	}
}

func TestRefusalAsObservation(t *testing.T) {
	e := newEngine(t)
	calc := &recorder{name: "calculator"}
	// calculator is allowed only for analyst-* agents.
	toolset := langchaingo.WrapAll(e, []tools.Tool{calc}, langchaingo.Options{Agent: "intern-1", RefusalAsObservation: true})
	out, err := run(t, toolset, "calculator", "2+2")
	if err != nil {
		t.Fatal(err)
	}
	if got := calc.calls(); len(got) != 0 {
		t.Fatalf("denied tool ran with %q", got)
	}
	steps, _ := out["intermediateSteps"].([]schema.AgentStep)
	if len(steps) != 1 || !strings.Contains(steps[0].Observation, `call to tool "calculator" denied (default)`) {
		t.Fatalf("steps = %+v", steps)
	}
	if out["output"] != "finished" {
		t.Errorf("output = %v", out["output"])
	}
}

func TestBadInputAndMissingAgentAreDenied(t *testing.T) {
	e := newEngine(t)
	shell := &recorder{name: "shell"}
	guarded := langchaingo.Wrap(e, shell, langchaingo.Options{Agent: "analyst-1"})
	_, err := guarded.Call(context.Background(), "ls \xff")
	var denied *portcullis.DeniedError
	if !errors.As(err, &denied) || denied.Decision.Code != portcullis.CodeInvalidAction ||
		!strings.Contains(denied.Decision.Reason, "UTF-8") {
		t.Fatalf("invalid UTF-8 input: %v", err)
	}
	anonymous := langchaingo.Wrap(e, shell, langchaingo.Options{})
	if _, err := anonymous.Call(context.Background(), "ls"); !errors.As(err, &denied) || denied.Decision.Code != portcullis.CodeInvalidAction {
		t.Fatalf("no agent id: %v", err)
	}
	if got := shell.calls(); len(got) != 0 {
		t.Fatalf("tool ran with %q", got)
	}
	if guarded.Name() != "shell" || guarded.Description() != "records its input" {
		t.Errorf("name/description not passed through")
	}
}

func TestRewriteToNonStringIsRefused(t *testing.T) {
	e, err := portcullis.New([]byte(`{"portcullis": 1, "name": "p", "rules": [
		{"id": "r", "effect": "allow", "modify": {"set": {"params.input": 5}}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	tool := &recorder{name: "t"}
	_, err = langchaingo.Wrap(e, tool, langchaingo.Options{Agent: "a"}).Call(context.Background(), "x")
	if err == nil || !strings.Contains(err.Error(), "takes a string") || len(tool.calls()) != 0 {
		t.Fatalf("got %v, calls %q", err, tool.calls())
	}
}

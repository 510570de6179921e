package genkit_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/firebase/genkit/go/ai"
	gk "github.com/firebase/genkit/go/genkit"

	portcullis "github.com/portcullis/portcullis/bindings/go"
	pcgenkit "github.com/portcullis/portcullis/bindings/go/genkit"
)

const policy = `{
  "portcullis": 1, "name": "genkit-test", "default": "deny",
  "rules": [
    {"id": "search", "effect": "allow", "match": {"tool": ["web.search"]}, "modify": {"clamp": {"params.limit": {"max": 10}}}},
    {"id": "pay", "effect": "allow", "match": {"tool": ["pay"]}},
    {"id": "big-pay", "effect": "require_approval", "match": {"tool": ["pay"]},
     "when": {"field": "params.amount", "gt": 100}, "reason": "payments over 100 need a human"},
    {"id": "no-refund", "effect": "deny", "match": {"tool": ["refund"]}, "reason": "refunds go through support"}
  ]
}`

type searchIn struct {
	Q     string `json:"q"`
	Limit int    `json:"limit"`
}
type payIn struct {
	Amount int `json:"amount"`
}

type fixture struct {
	g      *gk.Genkit
	engine *portcullis.Engine
	model  ai.Model
	mu     sync.Mutex
	ran    []string
	tools  map[string]ai.Tool
}

// newFixture defines the guarded tools and a scripted model that requests
// `request` (tool name and input) on its first turn and, once it sees a tool
// response, answers "done: <output>".
func newFixture(t *testing.T, tool string, input any) *fixture {
	t.Helper()
	ctx := context.Background()
	engine, err := portcullis.New([]byte(policy))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { engine.Close() })
	f := &fixture{g: gk.Init(ctx), engine: engine, tools: map[string]ai.Tool{}}
	opts := pcgenkit.Options{Agent: "assistant-1"}
	f.tools["web.search"] = pcgenkit.DefineTool(f.g, engine, opts, "web.search", "search", func(_ *ai.ToolContext, in searchIn) (string, error) {
		f.record(fmt.Sprintf("web.search %s %d", in.Q, in.Limit))
		return "results", nil
	})
	f.tools["pay"] = pcgenkit.DefineTool(f.g, engine, opts, "pay", "pay", func(_ *ai.ToolContext, in payIn) (string, error) {
		f.record(fmt.Sprintf("pay %d", in.Amount))
		return "paid", nil
	})
	f.tools["refund"] = pcgenkit.DefineTool(f.g, engine, opts, "refund", "refund", func(_ *ai.ToolContext, in payIn) (string, error) {
		f.record("refund")
		return "refunded", nil
	})
	f.model = gk.DefineModel(f.g, "test/scripted", &ai.ModelOptions{Supports: &ai.ModelSupports{Tools: true, Multiturn: true}},
		func(_ context.Context, req *ai.ModelRequest, _ ai.ModelStreamCallback) (*ai.ModelResponse, error) {
			last := req.Messages[len(req.Messages)-1]
			for _, p := range last.Content {
				if p.IsToolResponse() {
					return &ai.ModelResponse{Message: ai.NewModelTextMessage(fmt.Sprintf("done: %v", p.ToolResponse.Output)), FinishReason: ai.FinishReasonStop}, nil
				}
			}
			part := ai.NewToolRequestPart(&ai.ToolRequest{Name: tool, Input: input, Ref: "c1"})
			return &ai.ModelResponse{Message: &ai.Message{Role: ai.RoleModel, Content: []*ai.Part{part}}, FinishReason: ai.FinishReasonStop}, nil
		})
	return f
}

func (f *fixture) record(s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ran = append(f.ran, s)
}

func (f *fixture) generate(opts ...ai.GenerateOption) (*ai.ModelResponse, error) {
	base := []ai.GenerateOption{ai.WithModel(f.model), ai.WithTools(f.tools["web.search"], f.tools["pay"], f.tools["refund"])}
	return gk.Generate(context.Background(), f.g, append(base, opts...)...)
}

func TestAllowedAndModifiedCallsRun(t *testing.T) {
	f := newFixture(t, "web.search", map[string]any{"q": "agents", "limit": 500})
	resp, err := f.generate(ai.WithPrompt("search"))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Text() != "done: results" || len(f.ran) != 1 || f.ran[0] != "web.search agents 10" {
		t.Fatalf("text %q, ran %v", resp.Text(), f.ran)
	}
}

func TestDeniedCallNeverRuns(t *testing.T) {
	f := newFixture(t, "refund", map[string]any{"amount": 5})
	_, err := f.generate(ai.WithPrompt("refund"))
	// Genkit wraps the tool's error in its own, keeping the text.
	if err == nil || !strings.Contains(err.Error(), `call to tool "refund" denied`) || !strings.Contains(err.Error(), "refunds go through support") {
		t.Fatalf("error %v", err)
	}
	if len(f.ran) != 0 {
		t.Fatalf("ran %v", f.ran)
	}
}

func TestApprovalInterruptsAndAnApprovedRestartRunsOnce(t *testing.T) {
	f := newFixture(t, "pay", map[string]any{"amount": 500})
	resp, err := f.generate(ai.WithMessages(ai.NewUserTextMessage("pay")))
	if err != nil {
		t.Fatal(err)
	}
	if resp.FinishReason != ai.FinishReasonInterrupted || len(resp.Interrupts()) != 1 || len(f.ran) != 0 {
		t.Fatalf("finish %q, interrupts %d, ran %v", resp.FinishReason, len(resp.Interrupts()), f.ran)
	}
	interrupt := resp.Interrupts()[0]
	// The conversation so far (an interrupted response carries no request to take it from).
	history := []*ai.Message{ai.NewUserTextMessage("pay"), resp.Message}

	// A restart without the portcullis approval is still held.
	plain := f.tools["pay"].Restart(interrupt, nil)
	again, err := f.generate(ai.WithMessages(history...), ai.WithToolRestarts(plain))
	if len(f.ran) != 0 {
		t.Fatalf("plain restart ran the tool: %v", f.ran)
	}
	if err == nil && (again == nil || again.FinishReason != ai.FinishReasonInterrupted) {
		t.Fatalf("plain restart: neither an error nor a new interrupt: %+v", again)
	}

	// An approval for another action (a forged hash) is refused.
	forged := f.tools["pay"].Restart(interrupt, &ai.RestartOptions{ResumedMetadata: map[string]any{pcgenkit.ApprovalKey: "sha256:00"}})
	if _, err := f.generate(ai.WithMessages(history...), ai.WithToolRestarts(forged)); err == nil || len(f.ran) != 0 {
		t.Fatalf("forged approval: err %v, ran %v", err, f.ran)
	}

	restart := pcgenkit.Approval(f.tools["pay"], interrupt)
	if restart == nil {
		t.Fatal("no approval part for a portcullis interrupt")
	}
	done, err := f.generate(ai.WithMessages(history...), ai.WithToolRestarts(restart))
	if err != nil {
		t.Fatal(err)
	}
	if done.Text() != "done: paid" || len(f.ran) != 1 || f.ran[0] != "pay 500" {
		t.Fatalf("text %q, ran %v", done.Text(), f.ran)
	}
	// The grant was used by that call: the same payment needs approval again.
	d := f.engine.Evaluate(portcullis.Action{Tool: "pay", Agent: portcullis.Agent{ID: "assistant-1"}, Params: map[string]any{"amount": 500}})
	if d.Code != portcullis.CodeApprovalRequired {
		t.Fatalf("after the approved call: %s", d.Code)
	}
}

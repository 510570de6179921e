package eino_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/cloudwego/eino/components/model"
	"github.com/cloudwego/eino/components/tool"
	"github.com/cloudwego/eino/components/tool/utils"
	"github.com/cloudwego/eino/compose"
	"github.com/cloudwego/eino/flow/agent/react"
	"github.com/cloudwego/eino/schema"

	portcullis "github.com/portcullis/portcullis/bindings/go"
	"github.com/portcullis/portcullis/bindings/go/eino"
)

const policy = `{
  "portcullis": 1, "name": "eino-test", "default": "deny",
  "rules": [
    {"id": "read", "effect": "allow", "match": {"tool": ["fs.read"]}},
    {"id": "outside", "effect": "deny", "match": {"tool": ["fs.read"]},
     "unless": {"field": "params.path", "path_within": ["/srv/data"]}, "reason": "reads stay in /srv/data"},
    {"id": "search", "effect": "allow", "match": {"tool": ["search"]}, "modify": {"clamp": {"params.limit": {"max": 10}}}},
    {"id": "pay", "effect": "allow", "match": {"tool": ["pay"]}},
    {"id": "big-pay", "effect": "require_approval", "match": {"tool": ["pay"]},
     "when": {"field": "params.amount", "gt": 100}, "reason": "payments over 100 need a human"}
  ]
}`

// scripted is a tool-calling chat model that answers with the next scripted
// message and records what it was shown.
type scripted struct {
	mu      sync.Mutex
	replies []*schema.Message
	seen    [][]*schema.Message
}

func (m *scripted) Generate(_ context.Context, input []*schema.Message, _ ...model.Option) (*schema.Message, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.seen = append(m.seen, input)
	if len(m.replies) == 0 {
		return nil, errors.New("script exhausted")
	}
	reply := m.replies[0]
	m.replies = m.replies[1:]
	return reply, nil
}

func (m *scripted) Stream(ctx context.Context, input []*schema.Message, opts ...model.Option) (*schema.StreamReader[*schema.Message], error) {
	reply, err := m.Generate(ctx, input, opts...)
	if err != nil {
		return nil, err
	}
	return schema.StreamReaderFromArray([]*schema.Message{reply}), nil
}

func (m *scripted) WithTools([]*schema.ToolInfo) (model.ToolCallingChatModel, error) { return m, nil }

// toolResults returns what the model was shown as tool results, by call id.
func (m *scripted) toolResults() map[string]string {
	out := map[string]string{}
	for _, input := range m.seen {
		for _, msg := range input {
			if msg.Role == schema.Tool {
				out[msg.ToolCallID] = msg.Content
			}
		}
	}
	return out
}

func callTools(calls ...[3]string) *schema.Message {
	msg := &schema.Message{Role: schema.Assistant}
	for _, c := range calls {
		msg.ToolCalls = append(msg.ToolCalls, schema.ToolCall{ID: c[0], Type: "function", Function: schema.FunctionCall{Name: c[1], Arguments: c[2]}})
	}
	return msg
}

type recorder struct {
	mu    sync.Mutex
	calls []string
}

func (r *recorder) add(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, s)
}

type readIn struct {
	Path string `json:"path"`
}
type searchIn struct {
	Q     string `json:"q"`
	Limit int    `json:"limit"`
}
type payIn struct {
	Amount int `json:"amount"`
}

func tools(t *testing.T, rec *recorder) []tool.BaseTool {
	t.Helper()
	read, err := utils.InferTool("fs.read", "read a file", func(_ context.Context, in readIn) (string, error) {
		rec.add("fs.read " + in.Path)
		return "contents of " + in.Path, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	search, err := utils.InferTool("search", "search", func(_ context.Context, in searchIn) (string, error) {
		rec.add("search " + in.Q + " " + strings.Repeat("*", in.Limit))
		return "results", nil
	})
	if err != nil {
		t.Fatal(err)
	}
	pay, err := utils.InferTool("pay", "pay", func(_ context.Context, in payIn) (string, error) {
		rec.add("pay")
		return "paid", nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return []tool.BaseTool{read, search, pay}
}

func run(t *testing.T, opts eino.Options, replies ...*schema.Message) (*scripted, *recorder, *schema.Message, error) {
	t.Helper()
	engine, err := portcullis.New([]byte(policy))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { engine.Close() })
	rec := &recorder{}
	m := &scripted{replies: replies}
	ctx := context.Background()
	agent, err := react.NewAgent(ctx, &react.AgentConfig{
		ToolCallingModel: m,
		ToolsConfig: compose.ToolsNodeConfig{
			Tools:               tools(t, rec),
			ToolCallMiddlewares: []compose.ToolMiddleware{eino.Middleware(engine, opts)},
		},
		MaxStep: 6,
	})
	if err != nil {
		t.Fatal(err)
	}
	out, err := agent.Generate(ctx, []*schema.Message{schema.UserMessage("go")})
	return m, rec, out, err
}

func TestDeniedCallNeverRunsAndTheModelSeesWhy(t *testing.T) {
	m, rec, out, err := run(t, eino.Options{Agent: "assistant-1"},
		callTools([3]string{"c1", "fs.read", `{"path":"/srv/data/../../etc/passwd"}`}, [3]string{"c2", "fs.read", `{"path":"/srv/data/a"}`}),
		schema.AssistantMessage("done", nil))
	if err != nil {
		t.Fatal(err)
	}
	if out.Content != "done" {
		t.Fatalf("final answer %q", out.Content)
	}
	if len(rec.calls) != 1 || rec.calls[0] != "fs.read /srv/data/a" {
		t.Fatalf("tool calls %v", rec.calls)
	}
	results := m.toolResults()
	if !strings.Contains(results["c1"], "reads stay in /srv/data") {
		t.Fatalf("the model was shown %q", results["c1"])
	}
	if results["c2"] != "contents of /srv/data/a" {
		t.Fatalf("allowed call result %q", results["c2"])
	}
}

func TestModifiedCallRunsWithRewrittenArguments(t *testing.T) {
	_, rec, _, err := run(t, eino.Options{Agent: "assistant-1"},
		callTools([3]string{"c1", "search", `{"q":"x","limit":500}`}), schema.AssistantMessage("done", nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.calls) != 1 || rec.calls[0] != "search x "+strings.Repeat("*", 10) {
		t.Fatalf("tool calls %v", rec.calls)
	}
}

func TestRefusalAsErrorStopsTheRun(t *testing.T) {
	_, rec, _, err := run(t, eino.Options{Agent: "assistant-1", RefusalAsError: true},
		callTools([3]string{"c1", "fs.read", `{"path":"/etc/passwd"}`}), schema.AssistantMessage("done", nil))
	var denied *portcullis.DeniedError
	if !errors.As(err, &denied) || denied.Decision.Code != portcullis.CodeRule {
		t.Fatalf("error %v", err)
	}
	if len(rec.calls) != 0 {
		t.Fatalf("tool calls %v", rec.calls)
	}
}

func TestApprovals(t *testing.T) {
	pay := callTools([3]string{"c1", "pay", `{"amount":500}`})
	// Without an approver the call is refused.
	m, rec, _, err := run(t, eino.Options{Agent: "assistant-1"}, pay, schema.AssistantMessage("done", nil))
	if err != nil || len(rec.calls) != 0 || !strings.Contains(m.toolResults()["c1"], "payments over 100 need a human") {
		t.Fatalf("no approver: err %v, calls %v, shown %q", err, rec.calls, m.toolResults()["c1"])
	}
	// An approver that says no.
	var asked []eino.Call
	no := func(_ context.Context, c eino.Call, d portcullis.Decision) (bool, error) {
		asked = append(asked, c)
		return false, nil
	}
	_, rec, _, err = run(t, eino.Options{Agent: "assistant-1", Approve: no}, callTools([3]string{"c1", "pay", `{"amount":500}`}), schema.AssistantMessage("done", nil))
	if err != nil || len(rec.calls) != 0 || len(asked) != 1 || asked[0].Arguments != `{"amount":500}` {
		t.Fatalf("rejected: err %v, calls %v, asked %v", err, rec.calls, asked)
	}
	// An approver that says yes: the call runs.
	yes := func(context.Context, eino.Call, portcullis.Decision) (bool, error) { return true, nil }
	var final portcullis.Decision
	_, rec, _, err = run(t, eino.Options{Agent: "assistant-1", Approve: yes,
		OnDecision: func(_ context.Context, _ eino.Call, d portcullis.Decision) { final = d }},
		callTools([3]string{"c1", "pay", `{"amount":500}`}), schema.AssistantMessage("done", nil))
	if err != nil || len(rec.calls) != 1 || final.Code != portcullis.CodeApproved {
		t.Fatalf("approved: err %v, calls %v, final %+v", err, rec.calls, final)
	}
}

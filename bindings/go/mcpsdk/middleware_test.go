package mcpsdk_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	portcullis "github.com/portcullis/portcullis/bindings/go"
	"github.com/portcullis/portcullis/bindings/go/mcpsdk"
)

const policy = `{
  "portcullis": 1, "name": "mcp", "default": "deny",
  "agents": [{"id": "agent-*", "roles": ["worker"]}],
  "rules": [
    {"id": "search", "effect": "allow", "match": {"tool": ["search"], "role": ["worker"]},
     "modify": {"set": {"params.safe": true}, "clamp": {"params.limit": {"max": 50}}}},
    {"id": "no-rm", "effect": "deny", "match": {"tool": ["shell"]},
     "when": {"field": "params.cmd", "prefix": "rm"}, "reason": "no deleting files"},
    {"id": "shell", "effect": "allow", "match": {"tool": ["shell"]}},
    {"id": "pay", "effect": "require_approval", "match": {"tool": ["pay"]}}
  ]
}`

type searchArgs struct {
	Q     string `json:"q"`
	Limit int    `json:"limit,omitempty"`
	Safe  bool   `json:"safe,omitempty"`
}

type shellArgs struct {
	Cmd string `json:"cmd"`
}

type payArgs struct {
	Amount int `json:"amount"`
}

// recorder keeps the arguments each tool ran with.
type recorder struct {
	mu    sync.Mutex
	calls map[string][]any
}

func (r *recorder) add(tool string, args any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls[tool] = append(r.calls[tool], args)
}

func (r *recorder) get(tool string) []any {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]any(nil), r.calls[tool]...)
}

func handler[In any](r *recorder, tool string) mcp.ToolHandlerFor[In, any] {
	return func(_ context.Context, _ *mcp.CallToolRequest, in In) (*mcp.CallToolResult, any, error) {
		r.add(tool, in)
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: tool + " ran"}}}, nil, nil
	}
}

// connect runs a real server and client over in-memory transports, the
// server guarded by the middleware.
func connect(t *testing.T, engine *portcullis.Engine, clientName string, opts mcpsdk.Options) (*mcp.ClientSession, *recorder) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	rec := &recorder{calls: map[string][]any{}}
	server := mcp.NewServer(&mcp.Implementation{Name: "tools", Version: "1.0.0"}, nil)
	mcp.AddTool(server, &mcp.Tool{Name: "search", Description: "search"}, handler[searchArgs](rec, "search"))
	mcp.AddTool(server, &mcp.Tool{Name: "shell", Description: "run a command"}, handler[shellArgs](rec, "shell"))
	mcp.AddTool(server, &mcp.Tool{Name: "pay", Description: "send money"}, handler[payArgs](rec, "pay"))
	server.AddReceivingMiddleware(mcpsdk.Middleware(engine, opts))

	serverTransport, clientTransport := mcp.NewInMemoryTransports()
	serverSession, err := server.Connect(ctx, serverTransport, nil)
	if err != nil {
		t.Fatal(err)
	}
	client := mcp.NewClient(&mcp.Implementation{Name: clientName, Version: "1.0.0"}, nil)
	session, err := client.Connect(ctx, clientTransport, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		session.Close()
		serverSession.Wait()
	})
	return session, rec
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

func call(t *testing.T, s *mcp.ClientSession, tool string, args map[string]any) *mcp.CallToolResult {
	t.Helper()
	res, err := s.CallTool(context.Background(), &mcp.CallToolParams{Name: tool, Arguments: args})
	if err != nil {
		t.Fatalf("CallTool(%s): %v", tool, err)
	}
	return res
}

func text(res *mcp.CallToolResult) string {
	var parts []string
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			parts = append(parts, tc.Text)
		}
	}
	return strings.Join(parts, "\n")
}

// decisionOf reads the decision a refusal carries in _meta.
func decisionOf(t *testing.T, res *mcp.CallToolResult) portcullis.Decision {
	t.Helper()
	raw, err := json.Marshal(res.Meta[mcpsdk.MetaKey])
	if err != nil {
		t.Fatal(err)
	}
	var d portcullis.Decision
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("decision in _meta: %v (%s)", err, raw)
	}
	return d
}

func TestModifiedCallReachesToolWithRewrittenArguments(t *testing.T) {
	session, rec := connect(t, newEngine(t), "agent-7", mcpsdk.Options{})
	res := call(t, session, "search", map[string]any{"q": "golang", "limit": 500})
	if res.IsError || text(res) != "search ran" {
		t.Fatalf("result: error=%t %q", res.IsError, text(res))
	}
	got := rec.get("search")
	want := searchArgs{Q: "golang", Limit: 50, Safe: true}
	if len(got) != 1 || got[0] != want {
		t.Fatalf("tool got %+v, want [%+v]", got, want)
	}
}

func TestDeniedCallNeverReachesTool(t *testing.T) {
	session, rec := connect(t, newEngine(t), "agent-7", mcpsdk.Options{})
	res := call(t, session, "shell", map[string]any{"cmd": "rm -rf /"})
	if !res.IsError || !strings.Contains(text(res), `call to tool "shell" denied (rule, rule no-rm): no deleting files`) {
		t.Fatalf("result: error=%t %q", res.IsError, text(res))
	}
	if d := decisionOf(t, res); d.Effect != portcullis.EffectDeny || d.Rule == nil || *d.Rule != "no-rm" {
		t.Errorf("decision in _meta = %+v", d)
	}
	if got := rec.get("shell"); len(got) != 0 {
		t.Fatalf("denied tool ran with %+v", got)
	}

	res = call(t, session, "shell", map[string]any{"cmd": "ls"})
	if res.IsError {
		t.Fatalf("allowed call refused: %q", text(res))
	}
	if got := rec.get("shell"); len(got) != 1 || got[0] != (shellArgs{Cmd: "ls"}) {
		t.Fatalf("tool got %+v", got)
	}
}

func TestAgentIdentity(t *testing.T) {
	engine := newEngine(t)
	// The default agent is the client's name: "intruder" has no worker role.
	session, rec := connect(t, engine, "intruder", mcpsdk.Options{})
	if res := call(t, session, "search", map[string]any{"q": "x"}); !res.IsError ||
		!strings.Contains(text(res), "denied (default)") {
		t.Fatalf("unknown client: error=%t %q", res.IsError, text(res))
	}
	if got := rec.get("search"); len(got) != 0 {
		t.Fatalf("denied tool ran with %+v", got)
	}

	// A host-supplied identity replaces the client's name.
	var seen []portcullis.Decision
	session, rec = connect(t, engine, "intruder", mcpsdk.Options{
		Agent:      func(context.Context, *mcp.CallToolRequest) string { return "agent-host-verified" },
		Context:    func(context.Context, *mcp.CallToolRequest) map[string]any { return map[string]any{"tenant": "acme"} },
		OnDecision: func(_ context.Context, _ *mcp.CallToolRequest, d portcullis.Decision) { seen = append(seen, d) },
	})
	if res := call(t, session, "search", map[string]any{"q": "x"}); res.IsError {
		t.Fatalf("verified agent refused: %q", text(res))
	}
	if len(rec.get("search")) != 1 || len(seen) != 1 || !seen[0].Allowed {
		t.Fatalf("calls %+v, decisions %+v", rec.get("search"), seen)
	}
}

func TestApprovalFlow(t *testing.T) {
	engine := newEngine(t)
	session, rec := connect(t, engine, "agent-7", mcpsdk.Options{})
	res := call(t, session, "pay", map[string]any{"amount": 20})
	d := decisionOf(t, res)
	if !res.IsError || d.Code != portcullis.CodeApprovalRequired || d.ActionHash == nil ||
		!strings.Contains(text(res), "needs approval") || !strings.Contains(text(res), *d.ActionHash) {
		t.Fatalf("first call: error=%t %q %+v", res.IsError, text(res), d)
	}
	if len(rec.get("pay")) != 0 {
		t.Fatal("tool ran before approval")
	}
	// A human approves the exact call from the hash in the refusal.
	if err := engine.ApproveHash(*d.ActionHash, time.Minute, 1); err != nil {
		t.Fatal(err)
	}
	if res := call(t, session, "pay", map[string]any{"amount": 21}); !res.IsError {
		t.Fatal("approval covered a different amount")
	}
	if res := call(t, session, "pay", map[string]any{"amount": 20}); res.IsError {
		t.Fatalf("approved call refused: %q", text(res))
	}
	if res := call(t, session, "pay", map[string]any{"amount": 20}); !res.IsError {
		t.Fatal("single-use approval used twice")
	}
	if got := rec.get("pay"); len(got) != 1 || got[0] != (payArgs{Amount: 20}) {
		t.Fatalf("tool got %+v", got)
	}
}

func TestOtherMethodsPassThrough(t *testing.T) {
	session, _ := connect(t, newEngine(t), "agent-7", mcpsdk.Options{})
	res, err := session.ListTools(context.Background(), nil)
	if err != nil || len(res.Tools) != 3 {
		t.Fatalf("ListTools: %v, %+v", err, res)
	}
}

func TestClosedEngineRefusesEverything(t *testing.T) {
	engine := newEngine(t)
	session, rec := connect(t, engine, "agent-7", mcpsdk.Options{})
	engine.Close()
	res := call(t, session, "shell", map[string]any{"cmd": "ls"})
	if !res.IsError || decisionOf(t, res).Code != portcullis.CodeEngineError || len(rec.get("shell")) != 0 {
		t.Fatalf("closed engine: error=%t %q", res.IsError, text(res))
	}
}

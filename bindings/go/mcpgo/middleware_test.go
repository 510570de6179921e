package mcpgo_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	portcullis "github.com/portcullis/portcullis/bindings/go"
	"github.com/portcullis/portcullis/bindings/go/mcpgo"
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

// recorder keeps the arguments each tool handler ran with, as it bound them.
type recorder struct {
	mu    sync.Mutex
	calls map[string][]map[string]any
}

func (r *recorder) handler(tool string) server.ToolHandlerFunc {
	return func(_ context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		var bound map[string]any
		if err := req.BindArguments(&bound); err != nil {
			return nil, err
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		r.calls[tool] = append(r.calls[tool], bound)
		return mcp.NewToolResultText(tool + " ran"), nil
	}
}

func (r *recorder) get(tool string) []map[string]any {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]map[string]any(nil), r.calls[tool]...)
}

// connect runs a real server and an in-process client, the server's tool
// handlers guarded by the middleware.
func connect(t *testing.T, engine *portcullis.Engine, clientName string, opts mcpgo.Options) (*client.Client, *recorder) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	rec := &recorder{calls: map[string][]map[string]any{}}
	s := server.NewMCPServer("tools", "1.0.0",
		server.WithToolCapabilities(false),
		server.WithToolHandlerMiddleware(mcpgo.Middleware(engine, opts)))
	s.AddTool(mcp.NewTool("search", mcp.WithString("q"), mcp.WithNumber("limit")), rec.handler("search"))
	s.AddTool(mcp.NewTool("shell", mcp.WithString("cmd")), rec.handler("shell"))
	s.AddTool(mcp.NewTool("pay", mcp.WithNumber("amount")), rec.handler("pay"))

	c, err := client.NewInProcessClient(s)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	init := mcp.InitializeRequest{}
	init.Params.ProtocolVersion = mcp.LATEST_PROTOCOL_VERSION
	init.Params.ClientInfo = mcp.Implementation{Name: clientName, Version: "1.0.0"}
	if _, err := c.Initialize(ctx, init); err != nil {
		t.Fatal(err)
	}
	return c, rec
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

func call(t *testing.T, c *client.Client, tool string, args any) *mcp.CallToolResult {
	t.Helper()
	req := mcp.CallToolRequest{}
	req.Params.Name = tool
	req.Params.Arguments = args
	res, err := c.CallTool(context.Background(), req)
	if err != nil {
		t.Fatalf("CallTool(%s): %v", tool, err)
	}
	return res
}

func text(res *mcp.CallToolResult) string {
	var parts []string
	for _, c := range res.Content {
		if tc, ok := c.(mcp.TextContent); ok {
			parts = append(parts, tc.Text)
		}
	}
	return strings.Join(parts, "\n")
}

func decisionOf(t *testing.T, res *mcp.CallToolResult) portcullis.Decision {
	t.Helper()
	if res.Meta == nil {
		t.Fatal("refusal has no _meta")
	}
	raw, err := json.Marshal(res.Meta.AdditionalFields[mcpgo.MetaKey])
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
	c, rec := connect(t, newEngine(t), "agent-7", mcpgo.Options{})
	for _, args := range []any{
		map[string]any{"q": "golang", "limit": 500},
		json.RawMessage(`{"q": "golang", "limit": 500}`),
	} {
		res := call(t, c, "search", args)
		if res.IsError || text(res) != "search ran" {
			t.Fatalf("%T: error=%t %q", args, res.IsError, text(res))
		}
	}
	want := map[string]any{"q": "golang", "limit": 50.0, "safe": true}
	got := rec.get("search")
	if len(got) != 2 {
		t.Fatalf("tool ran %d times: %+v", len(got), got)
	}
	for _, g := range got {
		if len(g) != 3 || g["q"] != want["q"] || g["limit"] != want["limit"] || g["safe"] != true {
			t.Fatalf("tool got %+v, want %+v", g, want)
		}
	}
}

func TestDeniedCallNeverReachesTool(t *testing.T) {
	c, rec := connect(t, newEngine(t), "agent-7", mcpgo.Options{})
	res := call(t, c, "shell", map[string]any{"cmd": "rm -rf /"})
	if !res.IsError || !strings.Contains(text(res), `call to tool "shell" denied (rule, rule no-rm): no deleting files`) {
		t.Fatalf("result: error=%t %q", res.IsError, text(res))
	}
	if d := decisionOf(t, res); d.Effect != portcullis.EffectDeny || d.Rule == nil || *d.Rule != "no-rm" {
		t.Errorf("decision in _meta = %+v", d)
	}
	if got := rec.get("shell"); len(got) != 0 {
		t.Fatalf("denied tool ran with %+v", got)
	}
	// Arguments that are not an object make an invalid action.
	if res := call(t, c, "shell", []any{"rm", "-rf"}); !res.IsError || decisionOf(t, res).Code != portcullis.CodeInvalidAction {
		t.Fatalf("array arguments: error=%t %q", res.IsError, text(res))
	}
	if res := call(t, c, "shell", map[string]any{"cmd": "ls"}); res.IsError {
		t.Fatalf("allowed call refused: %q", text(res))
	}
	if got := rec.get("shell"); len(got) != 1 || got[0]["cmd"] != "ls" {
		t.Fatalf("tool got %+v", got)
	}
}

func TestAgentIdentity(t *testing.T) {
	engine := newEngine(t)
	c, rec := connect(t, engine, "intruder", mcpgo.Options{})
	if res := call(t, c, "search", map[string]any{"q": "x"}); !res.IsError || !strings.Contains(text(res), "denied (default)") {
		t.Fatalf("unknown client: error=%t %q", res.IsError, text(res))
	}
	if len(rec.get("search")) != 0 {
		t.Fatal("denied tool ran")
	}
	c, rec = connect(t, engine, "intruder", mcpgo.Options{
		Agent: func(context.Context, mcp.CallToolRequest) string { return "agent-host-verified" },
	})
	if res := call(t, c, "search", map[string]any{"q": "x"}); res.IsError {
		t.Fatalf("verified agent refused: %q", text(res))
	}
	if len(rec.get("search")) != 1 {
		t.Fatal("allowed tool did not run")
	}
}

func TestApprovalFlow(t *testing.T) {
	engine := newEngine(t)
	c, rec := connect(t, engine, "agent-7", mcpgo.Options{})
	res := call(t, c, "pay", map[string]any{"amount": 20})
	d := decisionOf(t, res)
	if !res.IsError || d.Code != portcullis.CodeApprovalRequired || d.ActionHash == nil {
		t.Fatalf("first call: error=%t %q", res.IsError, text(res))
	}
	if err := engine.ApproveHash(*d.ActionHash, time.Minute, 1); err != nil {
		t.Fatal(err)
	}
	if res := call(t, c, "pay", map[string]any{"amount": 20}); res.IsError {
		t.Fatalf("approved call refused: %q", text(res))
	}
	if res := call(t, c, "pay", map[string]any{"amount": 20}); !res.IsError {
		t.Fatal("single-use approval used twice")
	}
	if got := rec.get("pay"); len(got) != 1 || got[0]["amount"] != 20.0 {
		t.Fatalf("tool got %+v", got)
	}
}

// Package portcullis is the Go binding of portcullis, a runtime policy engine
// for AI agents: every tool call an agent wants to make is evaluated against
// deterministic rules (allow, deny, require approval, rewrite params, rate
// limit) before it runs.
//
// The package is a thin layer over the portcullis C ABI (include/portcullis.h),
// linked statically from the native library libportcullis.a. It never
// evaluates anything itself: the Rust core decides, so every language gets
// identical results.
//
//	engine, err := portcullis.New(policyJSON)
//	if err != nil {
//		return err // a *portcullis.PolicyError names the offending path
//	}
//	defer engine.Close()
//	d := engine.Evaluate(portcullis.Action{
//		Tool:   "database.write",
//		Agent:  portcullis.Agent{ID: "agent-001"},
//		Params: map[string]any{"table": "users"},
//	})
//	if !d.Allowed {
//		return fmt.Errorf("blocked: %s", d.Reason)
//	}
//
// # Failing closed
//
// Evaluate and EvaluateJSON never panic and never return an error. A
// malformed action gets a deny with code invalid_action. An engine that has
// been closed, or that fails, answers deny with code engine_error. Only a
// Decision with Allowed set lets an action run.
//
// # Concurrency and lifetime
//
// An Engine is safe for concurrent use. Close waits for the calls in flight
// and is idempotent; calls after Close fail closed (see Close). An Engine
// that is garbage collected without Close frees its native memory through a
// cleanup, but relying on that delays the release: call Close.
//
// # Audit trail
//
// WithAudit records every decision as a JSON line of a tamper-evident hash
// chain, in a file (AuditFile) or in memory for DrainAudit (AuditMemory).
// FlushAudit waits until the file holds every decision made so far, and
// AuditStats counts what was recorded and dropped.
//
// # Middleware
//
// The sub-packages langchaingo, mcpsdk and mcpgo put an Engine in front of
// langchaingo tools, the official MCP Go SDK server and mark3labs/mcp-go
// servers, so a denied call never reaches the tool and a rewritten call
// reaches it with the rewritten arguments.
package portcullis

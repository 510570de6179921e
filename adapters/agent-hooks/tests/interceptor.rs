//! The interceptor and the approval bridge driven through the agent-hooks host SDK's own
//! emitter (InterceptionEmitter + AgentContextBuilder), which validates every verdict against
//! the contract (§5 gate, transform paths, approval lifting) as a real host does.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use agent_hooks::{
    AgentContextBuilder, ApprovalOutcome, ApprovalRequest, ApprovalResolution, ApprovalResolver,
    Decision as HookDecision, EnforcementMode, InterceptionEmitter, InterceptionPoint, Verdict,
};
use async_trait::async_trait;
use portcullis::{ClockMode, Engine, EngineOptions};
use portcullis_agent_hooks::{verdict_for, EngineApprovals, PortcullisInterceptor, Unmapped};
use serde_json::{json, Value};

const POLICY: &str = r#"{
  "portcullis": 1, "name": "agent-hooks-test", "default": "deny",
  "rules": [
    {"id": "read", "effect": "allow", "match": {"tool": ["fs.read"]}},
    {"id": "outside", "effect": "deny", "match": {"tool": ["fs.read"]},
     "unless": {"field": "params.path", "path_within": ["/srv/data"]}, "reason": "reads stay in /srv/data"},
    {"id": "search", "effect": "allow", "match": {"tool": ["search"]}, "modify": {"clamp": {"params.limit": {"max": 10}}}},
    {"id": "pay", "effect": "allow", "match": {"tool": ["pay"]}},
    {"id": "big-pay", "effect": "require_approval", "match": {"tool": ["pay"]},
     "when": {"field": "params.amount", "gt": 100}, "reason": "payments over 100 need a human"},
    {"id": "pay-rate", "effect": "rate_limit", "match": {"tool": ["pay"]}, "limit": {"max": 1, "window": "1h"}},
    {"id": "acme-only", "effect": "deny", "match": {"tool": ["crm.*"]}, "unless": {"field": "context.tenant", "eq": "acme"}},
    {"id": "crm", "effect": "allow", "match": {"tool": ["crm.*"]}},
    {"id": "try-delete", "effect": "deny", "match": {"tool": ["db.delete"]}, "shadow": true}
  ]
}"#;

/// The emitter's futures finish without a runtime (no timers are configured): poll to completion.
fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
        std::thread::yield_now();
    }
}

fn engine() -> Arc<Engine> {
    let options = EngineOptions {
        clock: ClockMode::Manual {
            start_ms: 1_780_000_000_000,
        },
        ..EngineOptions::default()
    };
    Arc::new(Engine::new(POLICY.as_bytes(), options).unwrap())
}

struct Answer(ApprovalOutcome, Arc<Mutex<u32>>);

#[async_trait]
impl ApprovalResolver for Answer {
    async fn resolve(&self, request: ApprovalRequest<'_>) -> ApprovalResolution {
        *self.1.lock().unwrap() += 1;
        // The contract requires a verdict that agrees with the outcome.
        let verdict = match self.0 {
            ApprovalOutcome::Approve => Verdict::allow(),
            _ => Verdict::deny(Some("person:rejected".into()), None),
        };
        ApprovalResolution {
            outcome: self.0,
            context_identity: request.context_identity.clone(),
            verdict: Some(verdict),
        }
    }
}

fn emitter(
    engine: &Arc<Engine>,
    answer: Option<ApprovalOutcome>,
) -> (InterceptionEmitter, Arc<Mutex<u32>>) {
    let asked = Arc::new(Mutex::new(0));
    let resolver = answer.map(|outcome| {
        Box::new(EngineApprovals::new(
            engine.clone(),
            Answer(outcome, asked.clone()),
            1000,
        )) as Box<dyn ApprovalResolver>
    });
    let mut emitter = InterceptionEmitter::new(EnforcementMode::Enforce, resolver);
    emitter.register_at(
        Box::new(PortcullisInterceptor::new(engine.clone())),
        Some("portcullis".into()),
        Some(BTreeSet::from([InterceptionPoint::PreToolCall])),
    );
    (emitter, asked)
}

fn call(builder: &mut AgentContextBuilder, name: &str, args: Value) -> agent_hooks::AgentContext {
    builder.pre_tool_call("call-1", name, args)
}

#[test]
fn allow_proceeds_and_deny_blocks_with_the_reason() {
    let engine = engine();
    let (mut emitter, _) = emitter(&engine, None);
    let mut builder = AgentContextBuilder::new("agent-1", "test", "s-1");

    let mut ok = call(&mut builder, "fs.read", json!({"path": "/srv/data/a"}));
    let outcome = block_on(emitter.emit(&mut ok)).unwrap();
    assert_eq!(outcome.target, json!({"path": "/srv/data/a"}));

    let mut bad = call(
        &mut builder,
        "fs.read",
        json!({"path": "/srv/data/../../etc/passwd"}),
    );
    let blocked = block_on(emitter.emit(&mut bad)).unwrap_err();
    let verdict = &blocked.record.verdict;
    assert_eq!(verdict.decision, HookDecision::Deny);
    assert_eq!(verdict.reason.as_deref(), Some("portcullis:rule"));
    // The record is payload-free: the message is kept, bounded.
    assert_eq!(verdict.message.as_deref(), Some("reads stay in /srv/data"));
}

#[test]
fn modify_becomes_a_transform_the_host_applies() {
    let engine = engine();
    let (mut emitter, _) = emitter(&engine, None);
    let mut builder = AgentContextBuilder::new("agent-1", "test", "s-1");
    let mut ctx = call(&mut builder, "search", json!({"q": "x", "limit": 500}));
    let outcome = block_on(emitter.emit(&mut ctx)).unwrap();
    assert_eq!(outcome.record.verdict.decision, HookDecision::Transform);
    assert_eq!(outcome.target, json!({"q": "x", "limit": 10}));
    assert_eq!(ctx["tool_call"]["args"], json!({"q": "x", "limit": 10}));
}

#[test]
fn context_fields_reach_the_policy() {
    let engine = engine();
    let (mut emitter, _) = emitter(&engine, None);
    let mut builder = AgentContextBuilder::new("agent-1", "test", "s-1");
    let mut other = call(&mut builder, "crm.read", json!({}));
    assert!(block_on(emitter.emit(&mut other)).is_err());
    builder.with_optional("tenant", json!("acme"));
    let mut acme = call(&mut builder, "crm.read", json!({}));
    assert!(block_on(emitter.emit(&mut acme)).is_ok());
}

#[test]
fn approval_required_is_liftable_and_an_approval_becomes_an_engine_grant() {
    let engine = engine();
    let mut builder = AgentContextBuilder::new("agent-1", "test", "s-1");

    // No resolver: the escalation stays a deny.
    let (mut plain, _) = emitter(&engine, None);
    let mut ctx = call(&mut builder, "pay", json!({"amount": 500}));
    let blocked = block_on(plain.emit(&mut ctx)).unwrap_err();
    assert_eq!(
        blocked.record.verdict.reason.as_deref(),
        Some("portcullis:approval_required")
    );

    // A person rejects: blocked.
    let (mut rejecting, asked) = emitter(&engine, Some(ApprovalOutcome::Reject));
    let mut ctx = call(&mut builder, "pay", json!({"amount": 500}));
    assert!(block_on(rejecting.emit(&mut ctx)).is_err());
    assert_eq!(*asked.lock().unwrap(), 1);

    // A person approves: the engine is granted the approval and allows the call.
    let (mut approving, asked) = emitter(&engine, Some(ApprovalOutcome::Approve));
    let mut ctx = call(&mut builder, "pay", json!({"amount": 500}));
    let outcome = block_on(approving.emit(&mut ctx)).unwrap();
    assert_eq!(outcome.record.resolved_by, Some("approval"));
    assert_eq!(*asked.lock().unwrap(), 1);

    // The rate limit (1 per hour) is spent by that approved call: a second approval is refused
    // by the engine, so the bridge turns it into a rejection.
    let mut again = call(&mut builder, "pay", json!({"amount": 500}));
    assert!(block_on(approving.emit(&mut again)).is_err());
}

#[test]
fn unmapped_points_fail_closed_unless_allowed() {
    let engine = engine();
    let interceptor = PortcullisInterceptor::new(engine.clone());
    let mut builder = AgentContextBuilder::new("agent-1", "test", "s-1");
    let input = builder.input(json!("hello"), "user");
    let verdict = interceptor.decide(&input);
    assert_eq!(verdict.decision, HookDecision::Deny);
    assert_eq!(
        verdict.reason.as_deref(),
        Some("portcullis:unsupported_point")
    );
    assert_eq!(
        interceptor
            .with_unmapped(Unmapped::Allow)
            .decide(&input)
            .decision,
        HookDecision::Allow
    );

    let mut broken = builder.pre_tool_call("c", "fs.read", json!({}));
    broken.remove("tool_call");
    let verdict = PortcullisInterceptor::new(engine).decide(&broken);
    assert_eq!(verdict.reason.as_deref(), Some("portcullis:invalid_action"));
}

#[test]
fn every_verdict_passes_the_contract_gate() {
    let engine = engine();
    let actions = [
        json!({"tool": "fs.read", "agent": {"id": "a"}, "params": {"path": "/srv/data/x"}}),
        json!({"tool": "fs.read", "agent": {"id": "a"}, "params": {"path": "/etc"}}),
        json!({"tool": "search", "agent": {"id": "a"}, "params": {"q": "x", "limit": 50}}),
        json!({"tool": "pay", "agent": {"id": "a"}, "params": {"amount": 500}}),
        json!({"tool": "db.delete", "agent": {"id": "a"}, "params": {}}),
        json!({"tool": "unknown", "agent": {"id": "a"}, "params": {}}),
        json!("not an action"),
    ];
    for action in actions {
        let verdict = verdict_for(&engine.evaluate_value(&action));
        assert_eq!(verdict.validate(), Ok(()), "{action}");
    }
    let shadow = verdict_for(
        &engine.evaluate_value(&json!({"tool": "db.delete", "agent": {"id": "a"}, "params": {}})),
    );
    assert_eq!(shadow.warnings.len(), 1);
    assert_eq!(
        shadow.warnings[0].reason.as_deref(),
        Some("portcullis:shadow:try-delete")
    );
}

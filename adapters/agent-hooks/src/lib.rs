//! portcullis as an AGENT-HOOKS-0.1 interceptor (crate `agent-hooks-sdk`).
//!
//! [`PortcullisInterceptor`] decides `pre_tool_call` contexts with a portcullis [`Engine`] and
//! answers with an agent-hooks [`Verdict`]; [`EngineApprovals`] wraps the host's approval
//! resolver so that a human approval becomes a one-use engine approval and the engine decides
//! again. What maps, and what does not, is listed in the crate's README.md.
//!
//! The action built from a `pre_tool_call` context is
//! `{"kind": "tool_call", "tool": tool_call.name, "agent": {"id": agent.id},
//! "params": tool_call.args, "context": {"session": session.id, "framework": agent.framework,
//! "tenant": tenant, "call_id": tool_call.id}}` (context keys only when present).
#![forbid(unsafe_code)]

use std::sync::Arc;

use agent_hooks::{
    ApprovalOutcome, ApprovalRequest, ApprovalResolution, ApprovalResolver,
    Decision as HookDecision, Evidence, InterceptionPoint, Interceptor, Transform, Verdict,
    Warning,
};
use async_trait::async_trait;
use portcullis::{Code, Decision, Effect, Engine};
use serde_json::{json, Map, Value};

/// The key of a verdict's `approval` object under which the interceptor puts the action hash
/// and the deciding rule.
pub const APPROVAL_KEY: &str = "portcullis";

/// What the interceptor answers at interception points portcullis has no action for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Unmapped {
    /// Deny with reason `portcullis:unsupported_point` (the default: fail closed). Register the
    /// interceptor only at `pre_tool_call` (`register_at`) to leave other points to others.
    Deny,
    /// Allow without evaluating.
    Allow,
}

/// An agent-hooks interceptor backed by a portcullis engine.
#[derive(Debug, Clone)]
pub struct PortcullisInterceptor {
    engine: Arc<Engine>,
    unmapped: Unmapped,
}

impl PortcullisInterceptor {
    /// An interceptor that denies at interception points it cannot map.
    pub fn new(engine: Arc<Engine>) -> Self {
        PortcullisInterceptor {
            engine,
            unmapped: Unmapped::Deny,
        }
    }

    /// Sets what unmapped interception points get.
    #[must_use]
    pub fn with_unmapped(mut self, unmapped: Unmapped) -> Self {
        self.unmapped = unmapped;
        self
    }

    /// Decides a context synchronously (what `intercept` returns).
    pub fn decide(&self, context: &Map<String, Value>) -> Verdict {
        match point_of(context) {
            Some(InterceptionPoint::PreToolCall) => match action_for(context) {
                Ok(action) => verdict_for(&self.engine.evaluate_value(&action)),
                Err(detail) => verdict_for(&self.engine.deny_invalid_action(detail)),
            },
            _ if self.unmapped == Unmapped::Allow => Verdict::allow(),
            _ => Verdict::deny(
                Some("portcullis:unsupported_point".into()),
                Some("portcullis decides pre_tool_call contexts only".into()),
            ),
        }
    }
}

#[async_trait]
impl Interceptor for PortcullisInterceptor {
    async fn intercept(&self, context: &Map<String, Value>) -> Verdict {
        self.decide(context)
    }

    fn name(&self) -> Option<String> {
        Some("portcullis".into())
    }
}

fn point_of(context: &Map<String, Value>) -> Option<InterceptionPoint> {
    context
        .get("interception_point")
        .and_then(Value::as_str)
        .and_then(|s| s.parse().ok())
}

/// The portcullis action for a `pre_tool_call` context; the error says what is missing.
pub fn action_for(context: &Map<String, Value>) -> Result<Value, &'static str> {
    let call = context
        .get("tool_call")
        .and_then(Value::as_object)
        .ok_or("pre_tool_call context without tool_call")?;
    let tool = call
        .get("name")
        .and_then(Value::as_str)
        .ok_or("tool_call without a name")?;
    let agent = context
        .get("agent")
        .and_then(Value::as_object)
        .ok_or("context without agent")?;
    let agent_id = agent
        .get("id")
        .and_then(Value::as_str)
        .ok_or("agent without an id")?;
    // Missing arguments are {}; anything present goes to the engine as is (it denies non-objects).
    let params = call.get("args").cloned().unwrap_or_else(|| json!({}));
    let mut host = Map::new();
    let session = context.get("session").and_then(|s| s.get("id"));
    for (key, value) in [
        ("session", session),
        ("framework", agent.get("framework")),
        ("tenant", context.get("tenant")),
        ("call_id", call.get("id")),
    ] {
        if let Some(value) = value {
            host.insert(key.into(), value.clone());
        }
    }
    Ok(
        json!({ "kind": "tool_call", "tool": tool, "agent": { "id": agent_id }, "params": params, "context": host }),
    )
}

/// The agent-hooks verdict for a portcullis decision (see the README's mapping table).
pub fn verdict_for(decision: &Decision) -> Verdict {
    let mut verdict = match (decision.effect, &decision.params) {
        (Effect::Allow, None) => Verdict::allow(),
        (Effect::Allow, Some(params)) => Verdict {
            decision: HookDecision::Transform,
            transform: Some(Transform {
                path: "$target".into(),
                value: params.clone(),
            }),
            ..Verdict::allow()
        },
        (Effect::RequireApproval, _) => {
            let mut verdict = Verdict::escalate(
                Some("portcullis:approval_required".into()),
                Some(decision.reason.to_string()),
            );
            let mut payload = Map::new();
            payload.insert("action_hash".into(), json!(decision.action_hash));
            payload.insert("rule".into(), json!(decision.rule.as_deref()));
            verdict.approval = Some(Map::from_iter([(
                APPROVAL_KEY.to_string(),
                Value::Object(payload),
            )]));
            verdict
        }
        (Effect::Deny, _) => {
            // Engine failures use the runtime_error namespace the contract reserves for engines.
            let reason = match decision.code {
                Code::EngineError => "runtime_error:engine_error".to_string(),
                code => format!("portcullis:{}", code.as_str()),
            };
            Verdict::deny(Some(reason), Some(decision.reason.to_string()))
        }
    };
    verdict.warnings = decision
        .shadow
        .iter()
        .map(|hit| Warning {
            reason: Some(format!("portcullis:shadow:{}", hit.rule)),
            message: Some(format!(
                "shadow rule {} would have returned {}",
                hit.rule, hit.effect
            )),
        })
        .collect();
    let mut pointers = std::collections::BTreeMap::new();
    if let Some(rule) = &decision.rule {
        pointers.insert("portcullis.rule".to_string(), rule.to_string());
    }
    pointers.insert(
        "portcullis.code".to_string(),
        decision.code.as_str().to_string(),
    );
    verdict.evidence = Some(Evidence {
        artefact: decision.action_hash.clone(),
        verification_pointers: pointers,
    });
    verdict
}

/// Wraps the host's approval resolver. When it approves a verdict this crate escalated, the
/// engine gets a one-use approval for that exact action (lasting `ttl_ms` of its clock) and
/// decides again: the approval stands only if the engine now allows the action (deny rules and
/// rate limits still apply); otherwise the resolution becomes a rejection. Resolutions of other
/// interceptors' escalations pass through unchanged.
pub struct EngineApprovals<R> {
    engine: Arc<Engine>,
    inner: R,
    ttl_ms: u64,
}

impl<R> std::fmt::Debug for EngineApprovals<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineApprovals")
            .field("ttl_ms", &self.ttl_ms)
            .finish_non_exhaustive()
    }
}

impl<R: ApprovalResolver> EngineApprovals<R> {
    /// Wraps `inner`; approvals last `ttl_ms` (at least 1) of the engine's clock.
    pub fn new(engine: Arc<Engine>, inner: R, ttl_ms: u64) -> Self {
        EngineApprovals {
            engine,
            inner,
            ttl_ms: ttl_ms.max(1),
        }
    }
}

#[async_trait]
impl<R: ApprovalResolver> ApprovalResolver for EngineApprovals<R> {
    async fn resolve(&self, request: ApprovalRequest<'_>) -> ApprovalResolution {
        let ours = request
            .verdict
            .approval
            .as_ref()
            .is_some_and(|a| a.contains_key(APPROVAL_KEY));
        let context = request.context.clone();
        let identity = request.context_identity.clone();
        let resolution = self.inner.resolve(request).await;
        if !ours || resolution.outcome != ApprovalOutcome::Approve {
            return resolution;
        }
        let rejected = |reason: String| ApprovalResolution {
            outcome: ApprovalOutcome::Reject,
            context_identity: identity.clone(),
            verdict: Some(Verdict::deny(
                Some("portcullis:approval_not_granted".into()),
                Some(reason),
            )),
        };
        let Ok(action) = action_for(&context) else {
            return rejected("the approved context is not a tool call".into());
        };
        if let Err(err) = self.engine.approve_action_value(&action, self.ttl_ms, 1) {
            return rejected(format!("the engine refused the approval: {err}"));
        }
        let decision = self.engine.evaluate_value(&action);
        if decision.allowed() {
            resolution
        } else {
            rejected(decision.reason.to_string())
        }
    }
}

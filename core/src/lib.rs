//! portcullis: a deterministic, fail-closed runtime policy engine for AI agents.
//!
//! An [`Engine`] holds a compiled policy snapshot and decides, for each action an agent wants to
//! take (a tool call, an agent-to-agent message, a resource access), whether it may run. The
//! decision depends only on the policy, the engine's clock, its rate-limit counters and approval
//! grants, and the action: no network, no filesystem, no LLM.
//!
//! ```
//! use portcullis::{Engine, EngineOptions, Effect};
//! let policy = br#"{"portcullis": 1, "name": "demo", "rules": [
//!     {"id": "reads", "effect": "allow", "match": {"tool": ["fs.read"]}}]}"#;
//! let engine = Engine::new(policy, EngineOptions::default()).unwrap();
//! let d = engine.evaluate_json(br#"{"tool": "fs.read", "agent": {"id": "a1"}}"#);
//! assert_eq!(d.effect, Effect::Allow);
//! let d = engine.evaluate_json(br#"{"tool": "fs.delete", "agent": {"id": "a1"}}"#);
//! assert_eq!(d.effect, Effect::Deny);
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod action;
mod approvals;
mod audit;
mod clock;
mod condition;
mod decision;
mod digest;
mod engine;
mod error;
mod eval;
mod explain;
mod field;
mod fnv;
mod glob;
mod host;
mod identity;
mod json;
mod limits;
mod modify;
mod path;
mod policy;
mod small;
mod state;
mod tape;
mod time;
mod value;

pub use audit::{
    trail_files, verify_files, AuditError, AuditOptions, AuditSink, AuditStats, Checkpoint,
    CheckpointError, FileSink, Overflow, VerifyFailure, VerifyReport,
};
pub use decision::{Code, Decision, Effect, PolicyInfo, ShadowHit, Verdict};
pub use engine::{ClockMode, Engine, EngineOptions};
pub use error::{CreateError, EngineError, PolicyError};
pub use explain::Explanation;
pub use state::{Digest, LimitCheck, StateBackend, StateError, StateOutcome, StateRequest};

/// Limits the engine enforces on its inputs.
pub mod limits_info {
    /// Largest action accepted, in UTF-8 bytes of its JSON text.
    pub const MAX_ACTION_BYTES: usize = crate::action::MAX_ACTION_BYTES;
    /// Deepest nesting accepted in an action (the action object is level 1).
    pub const MAX_ACTION_DEPTH: usize = crate::action::MAX_ACTION_DEPTH;
    /// Largest policy document accepted, in bytes.
    pub const MAX_POLICY_BYTES: usize = crate::policy::MAX_POLICY_BYTES;
    /// Most rules a policy may hold.
    pub const MAX_RULES: usize = crate::policy::MAX_RULES;
    /// Deepest nesting accepted in a policy document (the document object is level 1).
    pub const MAX_POLICY_DEPTH: usize = crate::policy::MAX_POLICY_DEPTH;
    /// Largest audit queue accepted, in records (the queue is allocated up front).
    pub const MAX_QUEUE_CAPACITY: usize = crate::audit::MAX_QUEUE_CAPACITY;
}

/// Every load error of a policy document that can be found, in the order loading meets
/// them; empty when the policy loads. The first is the error [`Engine::new`] reports. After an
/// error in one section or one rule the others are still read; checks across sections are
/// skipped where a section they need failed (role cycles, undefined roles).
pub fn policy_errors(policy_json: &[u8]) -> Vec<PolicyError> {
    policy::check::all_errors(policy_json)
}

/// The `prev` value of the first record of an audit trail.
pub fn audit_genesis() -> &'static str {
    audit::GENESIS
}

/// Computes the action hash (`"sha256:"` + hex) of an action given as JSON text, exactly as
/// decisions report it, or says why the action is invalid.
pub fn action_hash_json(action_json: &[u8]) -> Result<String, EngineError> {
    let value = action::parse_action_json(action_json).map_err(EngineError::InvalidAction)?;
    let view = action::ActionView::from_value(&value).map_err(EngineError::InvalidAction)?;
    Ok(view.hash())
}

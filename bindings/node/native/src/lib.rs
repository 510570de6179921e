//! Node-API module behind the `portcullis` npm package.
//!
//! The JavaScript layer (`bindings/node/src`) owns the public API: it turns user values into
//! JSON text, validates arguments and maps errors to `Error` subclasses. This module only moves
//! text between V8 and the core: policy and action text in; decisions in a compact form (see
//! `decision.rs`), explanations and audit records as JSON text, and error values out.
//! It never throws for bad action content; load and argument errors are returned as values so
//! the JavaScript layer can raise the right error class with every field intact.

mod audit;
mod decision;

use audit::{NativeAuditOptions, NativeAuditStats};
use napi::bindgen_prelude::Either;
use napi_derive::napi;
use portcullis::{ClockMode, CreateError, Engine, EngineError, EngineOptions, PolicyError};

/// A policy load error, as a value (`path` in the spec's dotted form, `message` as the core wrote it).
#[napi(object)]
pub struct NativePolicyError {
    pub path: String,
    pub message: String,
}

impl From<PolicyError> for NativePolicyError {
    fn from(error: PolicyError) -> Self {
        NativePolicyError {
            path: error.path().to_owned(),
            message: error.message().to_owned(),
        }
    }
}

/// An engine that cannot be created, as a value. `kind` is `policy` (the policy does not load;
/// `path` names the offending value), `audit` (the trail cannot be opened; `path` is empty) or
/// `invalid_argument` (audit options the core cannot take; `path` is empty).
#[napi(object)]
pub struct NativeCreateError {
    pub kind: String,
    pub path: String,
    pub message: String,
}

impl From<CreateError> for NativeCreateError {
    fn from(error: CreateError) -> Self {
        match error {
            CreateError::Policy(error) => NativeCreateError {
                kind: "policy".to_owned(),
                path: error.path().to_owned(),
                message: error.message().to_owned(),
            },
            CreateError::Audit(message) => NativeCreateError {
                kind: "audit".to_owned(),
                path: String::new(),
                message: message.to_string(),
            },
        }
    }
}

/// The current policy's name and version.
#[napi(object)]
pub struct NativePolicyInfo {
    pub name: String,
    pub version: Option<String>,
}

/// An engine call error, as a value. `kind` is `system_clock`, `invalid_argument`,
/// `invalid_action`, `audit` or `unavailable` (the shared state store cannot be reached).
#[napi(object)]
pub struct NativeEngineError {
    pub kind: String,
    pub message: String,
}

impl From<EngineError> for NativeEngineError {
    fn from(error: EngineError) -> Self {
        let kind = match &error {
            EngineError::SystemClock => "system_clock",
            EngineError::InvalidArgument(_) => "invalid_argument",
            EngineError::InvalidAction(_) => "invalid_action",
            EngineError::Audit(_) => "audit",
            EngineError::Unavailable(_) => "unavailable",
        };
        NativeEngineError {
            kind: kind.to_owned(),
            message: error.to_string(),
        }
    }
}

/// One policy engine. Every method is synchronous and never throws for bad content.
#[napi]
pub struct NativeEngine {
    engine: Engine,
}

#[napi]
impl NativeEngine {
    /// Loads `policy` (JSON text). `manual` selects the manual clock starting at `start_ms`
    /// (unix ms); `max_keys_per_limit` of 0 keeps the core's default. With `audit`, every
    /// decision is written to the trail it describes; a bad policy never opens the trail.
    /// With `state` (a `redis://` or `rediss://` URL), limits and grants are kept there.
    #[napi]
    pub fn create(
        policy: String,
        manual: bool,
        start_ms: i64,
        max_keys_per_limit: u32,
        audit: Option<NativeAuditOptions>,
        state: Option<String>,
    ) -> Either<NativeEngine, NativeCreateError> {
        let mut options = EngineOptions::default();
        if let Some(url) = state.filter(|u| !u.is_empty()) {
            match portcullis_redis::RedisState::connect(&url) {
                Ok(backend) => options.state = Some(std::sync::Arc::new(backend)),
                Err(e) => {
                    return Either::B(NativeCreateError {
                        kind: "invalid_argument".to_owned(),
                        path: String::new(),
                        message: format!("state: {e}"),
                    })
                }
            }
        }
        if manual {
            options.clock = ClockMode::Manual { start_ms };
        }
        if max_keys_per_limit > 0 {
            options.max_keys_per_limit = max_keys_per_limit as usize;
        }
        let created = match audit.map(audit::to_core) {
            None => Engine::new(policy.as_bytes(), options).map_err(CreateError::from),
            Some(Ok(audit)) => Engine::with_audit(policy.as_bytes(), options, &audit),
            Some(Err(message)) => {
                return Either::B(NativeCreateError {
                    kind: "invalid_argument".to_owned(),
                    path: String::new(),
                    message,
                })
            }
        };
        match created {
            Ok(engine) => Either::A(NativeEngine { engine }),
            Err(error) => Either::B(error.into()),
        }
    }

    /// Swaps in a new policy; returns the load error (and keeps the old policy) when it fails.
    #[napi]
    pub fn update_policy(&self, policy: String) -> Option<NativePolicyError> {
        self.engine
            .update_policy(policy.as_bytes())
            .err()
            .map(Into::into)
    }

    /// Evaluates JSON text; returns the decision in the compact form of `decision.rs`, which
    /// `src/compact.ts` reads.
    #[napi]
    pub fn evaluate(&self, action: String) -> String {
        decision::compact(&self.engine.evaluate_json(action.as_bytes()))
    }

    /// Evaluates JSON text and returns only the verdict (effect, code, rule, retry, whether
    /// params were modified) in the compact form of `decision.rs`: the core's hot path.
    #[napi]
    pub fn evaluate_verdict(&self, action: String) -> String {
        decision::compact_verdict(&self.engine.evaluate_json_verdict(action.as_bytes()))
    }

    /// Evaluates JSON text; returns the decision as JSON text (POLICY.md §8). The reference the
    /// tests compare the compact form with.
    #[napi]
    pub fn evaluate_json(&self, action: String) -> String {
        self.engine.evaluate_json(action.as_bytes()).to_json()
    }

    /// Explains the decision for JSON text as a dry run; returns the explanation as JSON text.
    #[napi]
    pub fn explain(&self, action: String) -> String {
        self.engine.explain(action.as_bytes()).to_json()
    }

    /// The `invalid_action` deny for a value the JavaScript layer could not turn into JSON,
    /// with `reason` saying what is wrong, in the compact form. Carries the current policy's
    /// name and version, and is written to the audit trail like every decision.
    #[napi]
    pub fn invalid_action(&self, reason: String) -> String {
        decision::compact(&self.engine.deny_invalid_action(&reason))
    }

    /// The current policy's name and version.
    #[napi]
    pub fn policy_info(&self) -> NativePolicyInfo {
        let info = self.engine.policy_info();
        NativePolicyInfo {
            name: info.name.to_string(),
            version: info.version.as_deref().map(str::to_owned),
        }
    }

    /// Takes up to `max` records (at least 1) from an in-memory trail, in chain order, as the
    /// JSON text of an array of record objects; `[]` for an engine without a memory sink.
    #[napi]
    pub fn drain_audit(&self, max: u32) -> String {
        let records = self.engine.drain_audit(max.max(1) as usize);
        let mut text = String::with_capacity(2 + records.iter().map(String::len).sum::<usize>());
        text.push('[');
        for (index, line) in records.iter().enumerate() {
            if index > 0 {
                text.push(',');
            }
            text.push_str(line.trim_end_matches('\n'));
        }
        text.push(']');
        text
    }

    /// Waits until every decision made so far is written to the trail file and flushed; an
    /// error value (kind `audit`) when the file cannot be written.
    #[napi]
    pub fn flush_audit(&self) -> Option<NativeEngineError> {
        self.engine.flush_audit().err().map(Into::into)
    }

    /// Decision records written or drained, and dropped (all zero without a trail).
    #[napi]
    pub fn audit_stats(&self) -> NativeAuditStats {
        self.engine.audit_stats().into()
    }

    /// Grants an approval for the action in `action` (JSON text); returns its hash.
    #[napi]
    pub fn approve_json(
        &self,
        action: String,
        ttl_ms: i64,
        uses: u32,
    ) -> Either<String, NativeEngineError> {
        let ttl = u64::try_from(ttl_ms).unwrap_or(0);
        match self
            .engine
            .approve_action_json(action.as_bytes(), ttl, uses)
        {
            Ok(hash) => Either::A(hash),
            Err(error) => Either::B(error.into()),
        }
    }

    /// Grants an approval for an action hash (`sha256:<hex>`).
    #[napi]
    pub fn approve_hash(&self, hash: String, ttl_ms: i64, uses: u32) -> Option<NativeEngineError> {
        let ttl = u64::try_from(ttl_ms).unwrap_or(0);
        self.engine
            .approve_hash(&hash, ttl, uses)
            .err()
            .map(Into::into)
    }

    /// Sets a manual clock (unix ms); an error value on a system-clock engine.
    #[napi]
    pub fn set_time(&self, unix_ms: i64) -> Option<NativeEngineError> {
        self.engine.set_time(unix_ms).err().map(Into::into)
    }

    /// The engine's clock, unix ms.
    #[napi]
    pub fn now_ms(&self) -> i64 {
        self.engine.now_ms()
    }
}

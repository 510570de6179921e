//! Node-API module behind the `agentgate` npm package.
//!
//! The JavaScript layer (`bindings/node/src`) owns the public API: it turns user values into
//! JSON text, validates arguments and maps errors to `Error` subclasses. This module only moves
//! bytes between V8 and the core: policy and action text in, decision JSON or error values out.
//! It never throws for bad action content; load and argument errors are returned as values so
//! the JavaScript layer can raise the right error class with every field intact.

mod decision;
mod walk;

use agentgate::{ClockMode, Engine, EngineError, EngineOptions, PolicyError};
use napi::bindgen_prelude::{Either, Object, Unknown};
use napi::Env;
use napi_derive::napi;

/// A policy load error, as a value (`path` in the spec's dotted form, `message` as the core wrote it).
#[napi(object)]
pub struct NativePolicyError {
    pub path: String,
    pub message: String,
}

impl From<PolicyError> for NativePolicyError {
    fn from(error: PolicyError) -> Self {
        NativePolicyError {
            path: error.path,
            message: error.message,
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
/// `invalid_action` or `audit`.
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
    /// (unix ms); `max_keys_per_limit` of 0 keeps the core's default.
    #[napi]
    pub fn create(
        policy: String,
        manual: bool,
        start_ms: i64,
        max_keys_per_limit: u32,
    ) -> Either<NativeEngine, NativePolicyError> {
        let mut options = EngineOptions::default();
        if manual {
            options.clock = ClockMode::Manual { start_ms };
        }
        if max_keys_per_limit > 0 {
            options.max_keys_per_limit = max_keys_per_limit as usize;
        }
        match Engine::new(policy.as_bytes(), options) {
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

    /// Evaluates JSON text; returns the decision as JSON text (POLICY.md §8).
    #[napi]
    pub fn evaluate_json(&self, action: String) -> String {
        self.engine.evaluate_json(action.as_bytes()).to_json()
    }

    /// Evaluates JSON text; returns the decision built as a JavaScript object.
    /// A measured alternative (see README.md), not used by the public API.
    #[napi]
    pub fn evaluate_json_object<'env>(
        &self,
        env: &'env Env,
        action: String,
    ) -> napi::Result<Object<'env>> {
        decision::to_object(env, &self.engine.evaluate_json(action.as_bytes()))
    }

    /// Evaluates a JavaScript value read directly through Node-API; returns decision JSON text.
    /// A measured alternative (see README.md), not used by the public API.
    #[napi]
    pub fn evaluate_value(&self, env: &Env, action: Unknown<'_>) -> String {
        match walk::to_json_value(env, action) {
            Ok(value) => self.engine.evaluate_value(&value).to_json(),
            Err(reason) => self.invalid_action(reason),
        }
    }

    /// Evaluates an action passed as typed fields, with `params` and `context` as JSON text
    /// (empty for absent) as the JavaScript encoder writes it; returns decision JSON text.
    /// A measured alternative (see README.md), not used by the public API.
    #[napi]
    pub fn evaluate_fields(
        &self,
        tool: String,
        agent_id: String,
        params: String,
        context: String,
    ) -> String {
        let mut text = format!(
            r#"{{"tool":{},"agent":{{"id":{}}}"#,
            serde_json::Value::from(tool),
            serde_json::Value::from(agent_id)
        );
        for (key, json) in [("params", params), ("context", context)] {
            if !json.is_empty() {
                text.push_str(&format!(r#","{key}":{json}"#));
            }
        }
        text.push('}');
        self.engine.evaluate_json(text.as_bytes()).to_json()
    }

    /// The `invalid_action` deny for a value the JavaScript layer could not turn into JSON,
    /// with `reason` saying what is wrong. Carries the current policy's name and version, and
    /// is written to the audit trail like every decision.
    #[napi]
    pub fn invalid_action(&self, reason: String) -> String {
        self.engine.deny_invalid_action(&reason).to_json()
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

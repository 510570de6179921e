//! [`RemoteEngine`]: a client of `portcullis serve` with the local engine's evaluate/approve
//! API, that fails closed (see [docs/serve.md, "Clients"](../../docs/serve.md#clients)).
//!
//! - One HTTP/1.1 keep-alive connection per concurrent caller, over a Unix socket, TCP or
//!   TLS (`https://`); a timeout per call covers connecting (the TLS handshake included),
//!   sending and reading the answer.
//! - A failed call (no connection, timeout, error status, an answer that is not a valid
//!   decision) is a deny with code `unavailable` and a reason, or, with a fallback policy,
//!   the fallback engine's decision marked `fallback: true`. Never an error, never a retry.
//! - After `breaker_failures` consecutive failures the client stops calling the server for
//!   `breaker_cooldown`, then probes `GET /readyz` before sending decisions again.
mod breaker;
mod decode;
mod error;
mod options;
mod tls;
mod wire;

pub use decode::decision_from_value;
pub use error::{CallError, EndpointError, RemoteError};
pub use options::{Endpoint, RemoteOptions};

use breaker::Breaker;
use decode::policy_from_value;
use portcullis::{Code, Decision, Effect, PolicyError, PolicyInfo};
use serde_json::Value;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;
use wire::{Answer, Wire};

/// A remote engine. `Send + Sync`: share one between threads.
pub struct RemoteEngine {
    wire: Wire,
    breaker: Breaker,
    fallback: Option<portcullis::Engine>,
    /// The policy of the last decision the server sent, named in `unavailable` decisions.
    last_policy: Mutex<Option<PolicyInfo>>,
}

impl std::fmt::Debug for RemoteEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteEngine")
            .field("endpoint", self.wire.endpoint())
            .finish_non_exhaustive()
    }
}

impl RemoteEngine {
    /// A client of the server at `endpoint`. Nothing is connected until the first call; an
    /// `https://` endpoint's CAs are read now (`ca_file`, or the system's), and a file that
    /// holds none, or an invalid one, is an error.
    pub fn new(endpoint: Endpoint, opts: RemoteOptions) -> Result<RemoteEngine, EndpointError> {
        Ok(RemoteEngine {
            wire: Wire::new(endpoint, &opts)?,
            breaker: Breaker::new(opts.breaker_failures, opts.breaker_cooldown),
            fallback: opts.fallback,
            last_policy: Mutex::new(None),
        })
    }

    /// A call through the breaker; an answer of 500 or more, or a failed round trip, counts
    /// as a failure of the server.
    fn call(&self, method: &str, path: &str, body: &[u8]) -> Result<Answer, CallError> {
        self.breaker.admit(|| {
            self.wire
                .round_trip("GET", "/readyz", b"")
                .map(|a| a.status)
        })?;
        match self.wire.round_trip(method, path, body) {
            Ok(a) if a.status >= 500 => {
                self.breaker.failure(&CallError::status(a.status, &a.body));
                Ok(a)
            }
            Ok(a) => {
                self.breaker.success();
                Ok(a)
            }
            Err(e) => {
                self.breaker.failure(&e);
                Err(e)
            }
        }
    }

    /// The decision in a 200 answer to `/v1/decide`, or why there is none.
    fn decision(&self, answer: Result<Answer, CallError>) -> Result<Decision, CallError> {
        let answer = answer?;
        if answer.status != 200 {
            return Err(CallError::status(answer.status, &answer.body));
        }
        let Some(d) = serde_json::from_slice::<Value>(&answer.body)
            .ok()
            .as_ref()
            .and_then(decision_from_value)
        else {
            let e = CallError::NotADecision;
            self.breaker.failure(&e);
            return Err(e);
        };
        *self
            .last_policy
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(d.policy.clone());
        Ok(d)
    }

    /// Decides an action given as JSON text. Never fails: a failed call is a deny with code
    /// `unavailable`, or the fallback policy's decision.
    pub fn evaluate_json(&self, action_json: &[u8]) -> Decision {
        let start = Instant::now();
        match self.decision(self.call("POST", "/v1/decide", action_json)) {
            Ok(d) => d,
            Err(why) => self.failed(action_json, &why, start),
        }
    }

    /// Decides an action given as a JSON value (see [`RemoteEngine::evaluate_json`]).
    pub fn evaluate_value(&self, action: &Value) -> Decision {
        match serde_json::to_vec(action) {
            Ok(bytes) => self.evaluate_json(&bytes),
            Err(e) => self.failed(b"", &CallError::Encode(Arc::new(e)), Instant::now()),
        }
    }

    /// The decision of a failed call: the fallback's, or a deny with code `unavailable`.
    fn failed(&self, action_json: &[u8], why: &CallError, start: Instant) -> Decision {
        if let Some(fb) = &self.fallback {
            let mut d = fb.evaluate_json(action_json);
            d.fallback = true;
            return d;
        }
        let policy = self
            .last_policy
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .unwrap_or(PolicyInfo {
                name: Arc::from(""),
                version: None,
            });
        Decision {
            effect: Effect::Deny,
            code: Code::Unavailable,
            rule: None,
            reason: Arc::from(why.to_string()),
            matched: Vec::new(),
            shadow: Vec::new(),
            params: None,
            retry_after_ms: None,
            action_hash: portcullis::action_hash_json(action_json).ok(),
            policy,
            eval_ns: u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX),
            fallback: false,
        }
    }

    /// The JSON of a 200 answer; the server's error otherwise.
    fn expect_ok(answer: Result<Answer, CallError>) -> Result<Value, RemoteError> {
        let answer = answer.map_err(RemoteError::Unavailable)?;
        let v: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
        let field = |k: &str| {
            v.pointer(&format!("/error/{k}"))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned()
        };
        match answer.status {
            200 => Ok(v),
            422 => Err(RemoteError::Policy(PolicyError::new(
                field("path"),
                field("message"),
            ))),
            status => Err(RemoteError::Rejected {
                status,
                code: field("code"),
                message: field("message"),
            }),
        }
    }

    fn approve(&self, mut req: Value, ttl_ms: u64, uses: u32) -> Result<String, RemoteError> {
        if let Some(o) = req.as_object_mut() {
            o.insert("ttl_ms".into(), ttl_ms.into());
            o.insert("uses".into(), uses.into());
        }
        let body = req.to_string();
        let v = Self::expect_ok(self.call("POST", "/v1/approve", body.as_bytes()))?;
        v.get("action_hash")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or(RemoteError::Unavailable(CallError::Malformed("approve")))
    }

    /// Grants an approval for an action given as a JSON value; returns its hash.
    pub fn approve_action_value(
        &self,
        action: &Value,
        ttl_ms: u64,
        uses: u32,
    ) -> Result<String, RemoteError> {
        self.approve(serde_json::json!({ "action": action }), ttl_ms, uses)
    }

    /// Grants an approval for an action given as JSON text; returns its hash.
    pub fn approve_action_json(
        &self,
        action_json: &[u8],
        ttl_ms: u64,
        uses: u32,
    ) -> Result<String, RemoteError> {
        let action: Value =
            serde_json::from_slice(action_json).map_err(|e| RemoteError::Rejected {
                status: 400,
                code: "invalid_action".into(),
                message: e.to_string(),
            })?;
        self.approve_action_value(&action, ttl_ms, uses)
    }

    /// Grants an approval for an action hash.
    pub fn approve_hash(&self, hash: &str, ttl_ms: u64, uses: u32) -> Result<(), RemoteError> {
        self.approve(serde_json::json!({ "action_hash": hash }), ttl_ms, uses)
            .map(|_| ())
    }

    /// Replaces the server's policy (`PUT /v1/policy`); the first load error on rejection.
    pub fn update_policy(&self, policy_json: &[u8]) -> Result<(), RemoteError> {
        Self::expect_ok(self.call("PUT", "/v1/policy", policy_json)).map(|_| ())
    }

    /// The server's current policy name and version.
    pub fn policy_info(&self) -> Result<PolicyInfo, RemoteError> {
        let v = Self::expect_ok(self.call("GET", "/v1/policy", b""))?;
        policy_from_value(v.get("policy").unwrap_or(&Value::Null))
            .ok_or(RemoteError::Unavailable(CallError::Malformed("policy")))
    }

    /// True when `GET /readyz` answers 200 within the timeout (bypasses the breaker).
    pub fn ready(&self) -> bool {
        matches!(self.wire.round_trip("GET", "/readyz", b""), Ok(a) if a.status == 200)
    }

    /// A raw round trip (status, body), for tools and tests; never retried; bypasses the
    /// breaker.
    #[doc(hidden)]
    pub fn request(
        &self,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> Result<(u16, Vec<u8>), CallError> {
        self.wire
            .round_trip(method, path, body)
            .map(|a| (a.status, a.body))
    }
}

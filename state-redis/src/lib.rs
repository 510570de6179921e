//! Shared state for portcullis engines on Redis or Redis Cluster (see
//! [docs/shared-state.md](../../docs/shared-state.md)).
//!
//! Every engine created with the same [`RedisState`] URL (and prefix) counts rate limits and
//! consumes approval grants together. One decision that needs state is one atomic Lua script
//! (one round trip): it finds the grant, checks every firing limit with the exact sliding
//! window of §5.4, and admits and consumes only when nothing is exhausted. Decisions that fire
//! no limit and look up no grant never reach Redis.
//!
//! ```no_run
//! use std::sync::Arc;
//! let state = portcullis_redis::RedisState::connect("redis://127.0.0.1:6379/0").unwrap();
//! let options = portcullis::EngineOptions {
//!     state: Some(Arc::new(state)),
//!     ..portcullis::EngineOptions::default()
//! };
//! let policy = br#"{"portcullis": 1, "name": "p", "rules": []}"#;
//! let engine = portcullis::Engine::new(policy, options).unwrap();
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod conn;
mod scripts;

use conn::Pool;
use portcullis::{StateBackend, StateError, StateOutcome, StateRequest};
use std::fmt::Write as _;
use std::time::Duration;

/// The default time a call to Redis may take, connecting included.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(500);

/// Extra time a key lives in Redis past its window, so engines whose clocks differ a little
/// (or manual clocks) still see admissions that are inside the window by their own clock.
const GRACE_MS: u64 = 60_000;

/// Why a [`RedisState`] could not be created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

/// Rate-limit admissions and approval grants kept in Redis: a [`StateBackend`] for
/// [`portcullis::EngineOptions::state`].
#[derive(Debug)]
pub struct RedisState {
    pool: Pool,
    /// `{prefix}`: every key carries this hash tag, so one decision's keys share a Cluster slot.
    tag: String,
}

impl RedisState {
    /// Connects lazily to the store `url` names (no I/O happens until a decision needs state).
    ///
    /// `redis://[user:password@]host[:port][/db]` or `rediss://...` (TLS). Query parameters
    /// this crate reads (and removes before handing the URL to the client): `timeout_ms`
    /// (every call's bound, connecting included; default 500), `prefix` (key prefix, default
    /// `portcullis`), `cluster=true` (the host is a node of a Redis Cluster; several nodes may
    /// be given as `host1:port1,host2:port2`), `tls_ca=PATH` (`rediss://` only: trust the PEM
    /// CA certificates of this file instead of the system's store).
    ///
    /// Errors: a malformed URL or parameter, or a `tls_ca` file that cannot be read. A store
    /// that is down is not an error here (no I/O happens until a decision needs state).
    pub fn connect(url: &str) -> Result<RedisState, ConfigError> {
        let parsed = conn::Settings::parse(url)?;
        let tag = format!("{{{}}}", parsed.prefix);
        Ok(RedisState {
            pool: Pool::new(parsed)?,
            tag,
        })
    }

    /// The bound on every call to Redis.
    pub fn timeout(&self) -> Duration {
        self.pool.timeout()
    }

    fn limit_key(&self, limit: &[u8; 32], key: &[u8; 32]) -> String {
        let mut s = String::with_capacity(self.tag.len() + 134);
        s.push_str(&self.tag);
        s.push_str(":l:");
        hex(&mut s, limit);
        s.push(':');
        hex(&mut s, key);
        s
    }

    fn grant_key(&self, hash: &str) -> String {
        format!("{}:g:{}", self.tag, hash)
    }

    fn seq_key(&self) -> String {
        format!("{}:seq", self.tag)
    }
}

fn hex(out: &mut String, bytes: &[u8]) {
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
}

impl StateBackend for RedisState {
    fn decide(&self, request: &StateRequest<'_>) -> Result<StateOutcome, StateError> {
        let mut keys = Vec::with_capacity(request.limits.len() + 2);
        keys.push(self.seq_key());
        keys.push(match request.grant {
            Some(hash) => self.grant_key(hash),
            None => self.grant_key("-"),
        });
        let mut args: Vec<i64> = Vec::with_capacity(3 + 2 * request.limits.len());
        args.push(request.now_ms);
        args.push(GRACE_MS as i64);
        args.push(i64::from(request.grant.is_some()));
        for check in request.limits {
            keys.push(self.limit_key(&check.limit, &check.key));
            args.push(i64::from(check.max));
            args.push(i64::try_from(check.window_ms).unwrap_or(i64::MAX));
        }
        let reply: Vec<i64> = self
            .pool
            .run(|c| scripts::DECIDE.key(&keys).arg(&args).invoke(c))?;
        match reply.as_slice() {
            [0] => Ok(StateOutcome::NoGrant),
            [1] => Ok(StateOutcome::Admitted),
            [2, first, retry] if *first >= 1 => Ok(StateOutcome::Exhausted {
                first: usize::try_from(*first - 1).unwrap_or(0),
                retry_after_ms: u64::try_from(*retry).unwrap_or(1).max(1),
            }),
            other => Err(StateError::Failed(format!(
                "the shared state answered {other:?} to a decision"
            ))),
        }
    }

    fn grant(&self, hash: &str, now_ms: i64, ttl_ms: u64, uses: u32) -> Result<(), StateError> {
        let keys = [self.seq_key(), self.grant_key(hash)];
        let ttl = i64::try_from(ttl_ms).unwrap_or(i64::MAX);
        let args = [now_ms, ttl, i64::from(uses), GRACE_MS as i64];
        let _: i64 = self
            .pool
            .run(|c| scripts::GRANT.key(&keys).arg(&args).invoke(c))?;
        Ok(())
    }
}

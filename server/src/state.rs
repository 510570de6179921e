//! What every request shares: the engine, counters, limits and the reload status.
use crate::http::ApiError;
use crate::metrics::Metrics;
use arc_swap::ArcSwap;
use portcullis::{
    AuditOptions, AuditSink, ClockMode, Engine, EngineOptions, FileSink, PolicyError, StateBackend,
};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::Semaphore;

/// The last reload attempt that failed, until one succeeds.
#[derive(Debug, Clone)]
pub(crate) struct ReloadFailure {
    pub(crate) path: String,
    pub(crate) error: PolicyError,
}

#[derive(Debug)]
pub(crate) struct State {
    /// The engine; swapped whole only by the test-only reset.
    pub(crate) engine: ArcSwap<Engine>,
    pub(crate) policy_path: PathBuf,
    pub(crate) metrics: Metrics,
    pub(crate) reload_failure: Mutex<Option<ReloadFailure>>,
    pub(crate) permits: Semaphore,
    pub(crate) max_body: usize,
    pub(crate) request_timeout: Duration,
    pub(crate) token: Option<String>,
    pub(crate) test_control: bool,
    /// The shared store of limits and grants (`--state`), or None for in-process state.
    pub(crate) shared: Option<Arc<dyn StateBackend>>,
}

/// Opens the `--state` store (lazily: no I/O until a decision needs it).
pub(crate) fn shared_state(url: Option<&str>) -> Result<Option<Arc<dyn StateBackend>>, String> {
    match url {
        None => Ok(None),
        Some(url) => portcullis_redis::RedisState::connect(url)
            .map(|s| Some(Arc::new(s) as Arc<dyn StateBackend>))
            .map_err(|e| format!("--state: {e}")),
    }
}

pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Creates the engine for `policy` (manual clock in test-control mode; audited when asked).
pub(crate) fn make_engine(
    policy: &[u8],
    audit: Option<&PathBuf>,
    manual_clock: Option<i64>,
    shared: Option<Arc<dyn StateBackend>>,
) -> Result<Engine, String> {
    let options = EngineOptions {
        clock: match manual_clock {
            Some(start_ms) => ClockMode::Manual { start_ms },
            None => ClockMode::System,
        },
        state: shared,
        ..EngineOptions::default()
    };
    match audit {
        Some(path) => {
            let audit = AuditOptions {
                sink: AuditSink::File(FileSink::new(path)),
                ..AuditOptions::default()
            };
            Engine::with_audit(policy, options, &audit).map_err(|e| e.to_string())
        }
        None => Engine::new(policy, options).map_err(|e| e.to_string()),
    }
}

impl State {
    pub(crate) fn engine(&self) -> Arc<Engine> {
        self.engine.load_full()
    }

    /// Runs an engine call. With a shared store (`--state`) the call may wait on the network
    /// (up to the store's timeout), so it runs on the blocking pool and the other connections
    /// of this worker keep being served; without one it runs here. A call that panics is a
    /// 500 `engine_error`.
    pub(crate) async fn may_block<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        if self.shared.is_none() {
            return Ok(f());
        }
        tokio::task::spawn_blocking(f).await.map_err(|e| {
            tracing::error!(error = %e, "an engine call failed");
            ApiError::new(
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                "engine_error",
                "the engine call failed",
            )
        })
    }

    pub(crate) fn reload_failing(&self) -> Option<ReloadFailure> {
        self.reload_failure
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Reads the policy file and swaps it in; on failure keeps the current policy, logs the
    /// error with its path and counts it.
    pub(crate) fn reload_from_file(&self, why: &str) -> bool {
        let path = self.policy_path.display().to_string();
        let result = crate::yaml::read_policy(&self.policy_path)
            .and_then(|bytes| self.engine().update_policy(&bytes));
        self.record_reload(&path, why, result)
    }

    pub(crate) fn record_reload(
        &self,
        source: &str,
        why: &str,
        result: Result<(), PolicyError>,
    ) -> bool {
        let mut failure = self
            .reload_failure
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match result {
            Ok(()) => {
                let info = self.engine().policy_info();
                self.metrics
                    .reloads
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tracing::info!(source, trigger = why, policy = %info.name, version = info.version.as_deref().unwrap_or(""), "policy reloaded");
                *failure = None;
                true
            }
            Err(error) => {
                self.metrics
                    .reload_failures
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tracing::error!(source, trigger = why, error_path = %error.path(), error = %error.message(), "policy reload failed; the current policy stays in force");
                *failure = Some(ReloadFailure {
                    path: source.to_owned(),
                    error,
                });
                false
            }
        }
    }
}

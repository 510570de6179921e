//! The engine: a compiled policy snapshot behind an atomic pointer, plus the shared state
//! (clock, rate-limit counters, approval grants) that outlives policy updates.
use crate::action::{
    check_action_value, parse_action_json, ActionView, MAX_ACTION_BYTES, MAX_ACTION_DEPTH,
};
use crate::audit::{Audit, AuditOptions, AuditStats, Subject};
use crate::clock::Clock;
use crate::decision::{Code, Decision, Effect, PolicyInfo, Verdict};
use crate::error::{CreateError, EngineError, PolicyError};
use crate::eval::{decide, Detail};
use crate::policy::{load, Interner, Snapshot};
use crate::state::{InProcess, StateBackend};
use crate::tape::Tape;
use arc_swap::ArcSwap;
use serde_json::Value;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// The action text read into a tape: no value of the whole action is built. Text the tape
/// does not read (too long, not UTF-8, not valid JSON) takes the parser's path, whose answer
/// (and error) is the reference.
fn read_tape(action_json: &[u8]) -> Option<Tape<'_>> {
    if action_json.len() > MAX_ACTION_BYTES {
        return None;
    }
    let text = std::str::from_utf8(action_json).ok()?;
    Tape::read(text, MAX_ACTION_DEPTH)
}

/// An action as a verdict entry point read it.
enum Read<'v> {
    Owned(Value),
    Borrowed(&'v Value),
    Tape(&'v Tape<'v>),
}

/// Which clock an engine reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClockMode {
    /// The system clock.
    #[default]
    System,
    /// A clock the host sets with [`Engine::set_time`], starting at `start_ms` (unix ms).
    Manual {
        /// The clock's initial reading, in unix milliseconds.
        start_ms: i64,
    },
}

/// Options fixed when an engine is created.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// The clock time windows, rate limits and approvals read.
    pub clock: ClockMode,
    /// Most keys each rate-limit rule keeps (default 100,000); see the spec, §5.4.
    pub max_keys_per_limit: usize,
    /// Where rate-limit admissions and approval grants live: `None` (the default) keeps them
    /// in this engine; a shared backend lets several engines count and approve together
    /// (see the spec, §11.3).
    pub state: Option<Arc<dyn StateBackend>>,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            clock: ClockMode::System,
            max_keys_per_limit: 100_000,
            state: None,
        }
    }
}

impl PartialEq for EngineOptions {
    fn eq(&self, other: &Self) -> bool {
        self.clock == other.clock
            && self.max_keys_per_limit == other.max_keys_per_limit
            && match (&self.state, &other.state) {
                (None, None) => true,
                (Some(a), Some(b)) => Arc::ptr_eq(a, b),
                _ => false,
            }
    }
}

impl Eq for EngineOptions {}

/// A policy engine. `Send + Sync`: share one engine between threads; every method takes
/// `&self`, evaluation reads the current snapshot without locking, and policy updates swap it
/// atomically. No method panics.
#[derive(Debug)]
pub struct Engine {
    snapshot: ArcSwap<Snapshot>,
    clock: Clock,
    state: Arc<dyn StateBackend>,
    interner: Interner,
    max_keys: usize,
    /// Serializes updates so that counters carry over from the snapshot being replaced.
    updating: Mutex<()>,
    audit: Option<Audit>,
}

fn valid_hash(hash: &str) -> bool {
    hash.strip_prefix("sha256:").is_some_and(|hex| {
        hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    })
}

impl Engine {
    /// Loads `policy_json` into a new engine; the error is the document's first load error.
    pub fn new(policy_json: &[u8], options: EngineOptions) -> Result<Engine, PolicyError> {
        Engine::build(policy_json, options, None).map_err(|e| match e {
            CreateError::Policy(p) => p,
            // No trail is opened without audit options.
            CreateError::Audit(e) => PolicyError::new("", e.to_string()),
        })
    }

    /// Loads `policy_json` into a new engine that writes every decision to the audit trail
    /// `audit` configures (see the spec, §8). A bad policy never creates or touches a trail.
    pub fn with_audit(
        policy_json: &[u8],
        options: EngineOptions,
        audit: &AuditOptions,
    ) -> Result<Engine, CreateError> {
        Engine::build(policy_json, options, Some(audit))
    }

    fn build(
        policy_json: &[u8],
        options: EngineOptions,
        audit: Option<&AuditOptions>,
    ) -> Result<Engine, CreateError> {
        let interner = Interner::default();
        let max_keys = options.max_keys_per_limit.max(1);
        let snapshot = guarded(|| load(policy_json, None, &interner, max_keys))?;
        let audit = match audit {
            Some(a) => Audit::start(a).map_err(CreateError::Audit)?,
            None => None,
        };
        Ok(Engine {
            snapshot: ArcSwap::from_pointee(snapshot),
            clock: match options.clock {
                ClockMode::System => Clock::System,
                ClockMode::Manual { start_ms } => Clock::Manual(start_ms.into()),
            },
            state: options
                .state
                .unwrap_or_else(|| Arc::new(InProcess::default())),
            interner,
            max_keys,
            updating: Mutex::new(()),
            audit,
        })
    }

    /// Replaces the policy atomically: evaluations in flight finish on the old snapshot, later
    /// ones see the new one. On error the current policy stays in place.
    pub fn update_policy(&self, policy_json: &[u8]) -> Result<(), PolicyError> {
        let _serial = self
            .updating
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let prev = self.snapshot.load_full();
        let next = guarded(|| load(policy_json, Some(&prev), &self.interner, self.max_keys))?;
        self.snapshot.store(Arc::new(next));
        Ok(())
    }

    /// Decides an action given as JSON text. A malformed action is denied with code
    /// `invalid_action`; this never fails.
    pub fn evaluate_json(&self, action_json: &[u8]) -> Decision {
        let start = Instant::now();
        self.finish(start, || match read_tape(action_json) {
            Some(tape) => self.decide_view(ActionView::from_tape(&tape)),
            None => match parse_action_json(action_json) {
                Ok(value) => self.decide_view(ActionView::from_value(&value)),
                Err(reason) => (self.invalid(reason), None),
            },
        })
    }

    /// Decides an action given as a JSON value (checked for the same size and depth limits as
    /// JSON text). This never fails.
    pub fn evaluate_value(&self, action: &Value) -> Decision {
        let start = Instant::now();
        self.finish(start, || match check_action_value(action) {
            Ok(()) => self.decide_view(ActionView::from_value(action)),
            Err(reason) => (self.invalid(reason), None),
        })
    }

    /// Decides an action given as JSON text, returning only the [`Verdict`]: the hot path for
    /// hosts that act on the effect and fetch details rarely. The decision is the same as
    /// [`Engine::evaluate_json`]'s (and consumes limits and approvals the same way).
    pub fn evaluate_json_verdict(&self, action_json: &[u8]) -> Verdict {
        match read_tape(action_json) {
            Some(tape) => self.verdict(
                || Some(Read::Tape(&tape)),
                || self.evaluate_json(action_json),
            ),
            None => self.verdict(
                || parse_action_json(action_json).ok().map(Read::Owned),
                || self.evaluate_json(action_json),
            ),
        }
    }

    /// [`Engine::evaluate_json_verdict`] for an action given as a JSON value.
    pub fn evaluate_value_verdict(&self, action: &Value) -> Verdict {
        self.verdict(
            || {
                check_action_value(action)
                    .ok()
                    .map(|()| Read::Borrowed(action))
            },
            || self.evaluate_value(action),
        )
    }

    /// The verdict entry points' one body: `read` gives the checked action (`None`: invalid);
    /// with an audit trail, `audited` decides in full, since records need the whole decision.
    fn verdict<'v>(
        &self,
        read: impl FnOnce() -> Option<Read<'v>>,
        audited: impl FnOnce() -> Decision,
    ) -> Verdict {
        if self.audit.is_some() {
            return Verdict::from(&audited());
        }
        let start = Instant::now();
        let mut v = catch_unwind(AssertUnwindSafe(|| {
            let view = match read() {
                Some(Read::Owned(value)) => return self.verdict_of(ActionView::from_value(&value)),
                Some(Read::Borrowed(value)) => ActionView::from_value(value),
                Some(Read::Tape(tape)) => ActionView::from_tape(tape),
                None => return Verdict::denied(Code::InvalidAction),
            };
            self.verdict_of(view)
        }))
        .unwrap_or_else(|_| Verdict::denied(Code::EngineError));
        v.eval_ns = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        v
    }

    fn verdict_of(&self, view: Result<ActionView<'_>, String>) -> Verdict {
        match view {
            Ok(view) => {
                let snap = self.snapshot.load();
                decide(
                    &snap,
                    self.state.as_ref(),
                    &view,
                    self.clock.now_ms(),
                    Detail::Counts,
                )
                .verdict()
            }
            Err(_) => Verdict::denied(Code::InvalidAction),
        }
    }

    /// The `invalid_action` deny for an action a binding could not even turn into JSON (a
    /// cyclic object, a non-finite number...), with `reason` saying what is wrong. It is
    /// recorded in the audit trail like every other decision.
    pub fn deny_invalid_action(&self, reason: &str) -> Decision {
        let start = Instant::now();
        self.finish(start, || (self.invalid(reason.to_owned()), None))
    }

    /// The `engine_error` deny for a failure outside the engine (a binding that could not
    /// reach it or read its answer), with `reason`; recorded in the audit trail.
    pub fn deny_engine_error(&self, reason: &str) -> Decision {
        let start = Instant::now();
        self.finish(start, || {
            (
                self.deny_without_rule(Code::EngineError, Arc::from(reason)),
                None,
            )
        })
    }

    /// Grants an approval for the action given as JSON text; returns its hash.
    pub fn approve_action_json(
        &self,
        action_json: &[u8],
        ttl_ms: u64,
        uses: u32,
    ) -> Result<String, EngineError> {
        let value = parse_action_json(action_json).map_err(EngineError::InvalidAction)?;
        self.approve_action_value(&value, ttl_ms, uses)
    }

    /// Grants an approval for the action given as a JSON value; returns its hash.
    pub fn approve_action_value(
        &self,
        action: &Value,
        ttl_ms: u64,
        uses: u32,
    ) -> Result<String, EngineError> {
        check_action_value(action).map_err(EngineError::InvalidAction)?;
        let hash = ActionView::from_value(action)
            .map_err(EngineError::InvalidAction)?
            .hash();
        self.approve_hash(&hash, ttl_ms, uses)?;
        Ok(hash)
    }

    /// Grants an approval for an action hash (`"sha256:"` + 64 lowercase hex digits), valid
    /// for `ttl_ms` (≥ 1) from now and for `uses` (≥ 1) allowed actions.
    pub fn approve_hash(&self, hash: &str, ttl_ms: u64, uses: u32) -> Result<(), EngineError> {
        if ttl_ms == 0 {
            return Err(EngineError::InvalidArgument(
                "ttl_ms must be at least 1".into(),
            ));
        }
        if uses == 0 {
            return Err(EngineError::InvalidArgument(
                "uses must be at least 1".into(),
            ));
        }
        if !valid_hash(hash) {
            return Err(EngineError::InvalidArgument(format!(
                "{} is not an action hash (\"sha256:\" and 64 lowercase hex digits)",
                crate::json::quote(hash)
            )));
        }
        self.state
            .grant(hash, self.clock.now_ms(), ttl_ms, uses)
            .map_err(|e| EngineError::Unavailable(format!("the approval was not stored: {e}")))
    }

    /// Sets a manual clock to `unix_ms`.
    pub fn set_time(&self, unix_ms: i64) -> Result<(), EngineError> {
        match &self.clock {
            Clock::Manual(t) => {
                t.store(unix_ms, Ordering::SeqCst);
                Ok(())
            }
            Clock::System => Err(EngineError::SystemClock),
        }
    }

    /// The engine clock's reading, in unix milliseconds.
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// The name and version of the current policy.
    pub fn policy_info(&self) -> PolicyInfo {
        self.snapshot.load().info.clone()
    }

    /// What an explanation reads: the current snapshot, the state backend and the clock.
    pub(crate) fn explain_parts(&self) -> (arc_swap::Guard<Arc<Snapshot>>, &dyn StateBackend, i64) {
        (
            self.snapshot.load(),
            self.state.as_ref(),
            self.clock.now_ms(),
        )
    }

    /// Decides a read action; with an audit trail, also copies what its record needs.
    fn decide_view(&self, view: Result<ActionView<'_>, String>) -> (Decision, Option<Subject>) {
        match view {
            Ok(view) => {
                let snap = self.snapshot.load();
                let d = decide(
                    &snap,
                    self.state.as_ref(),
                    &view,
                    self.clock.now_ms(),
                    Detail::Full,
                )
                .into_decision(&snap);
                let subject = self.audit.as_ref().map(|_| Subject {
                    agent: view.agent.to_owned(),
                    kind: view.kind.as_str(),
                    tool: view.tool.to_owned(),
                    target: view.target.map(str::to_owned),
                    params: included_params(&snap.audit_params, view.params()),
                });
                (d, subject)
            }
            Err(reason) => (self.invalid(reason), None),
        }
    }

    /// Up to `max` sealed audit records (JSON lines, each ending in a newline), in chain
    /// order, from an engine created with an in-memory sink; empty otherwise. A record of the
    /// number of dropped records comes first when records were dropped since the last call.
    pub fn drain_audit(&self, max: usize) -> Vec<String> {
        self.audit.as_ref().map_or_else(Vec::new, |a| a.drain(max))
    }

    /// Waits until every decision made so far is written to the audit file and flushed.
    pub fn flush_audit(&self) -> Result<(), EngineError> {
        self.audit
            .as_ref()
            .map_or(Ok(()), |a| a.flush().map_err(EngineError::Audit))
    }

    /// Closes the engine. With a file trail, waits until the writer has written every
    /// accepted record, and fails with how many could not be written (a full disk). Dropping
    /// the engine does the same but can only report the loss on stderr.
    pub fn close(mut self) -> Result<(), EngineError> {
        self.audit
            .take()
            .map_or(Ok(()), |a| a.close().map_err(EngineError::Audit))
    }

    /// Audit counters (all zero without an audit trail).
    pub fn audit_stats(&self) -> AuditStats {
        self.audit
            .as_ref()
            .map_or_else(AuditStats::default, Audit::stats)
    }

    fn invalid(&self, reason: String) -> Decision {
        self.deny_without_rule(Code::InvalidAction, Arc::from(reason))
    }

    fn deny_without_rule(&self, code: Code, reason: Arc<str>) -> Decision {
        Decision {
            effect: Effect::Deny,
            code,
            rule: None,
            reason,
            matched: Vec::new(),
            shadow: Vec::new(),
            params: None,
            retry_after_ms: None,
            action_hash: None,
            policy: self.policy_info(),
            eval_ns: 0,
            fallback: false,
        }
    }

    /// Runs `f`, turning a panic into an `engine_error` deny, stamps `eval_ns`, and enqueues
    /// the audit record.
    fn finish(&self, start: Instant, f: impl FnOnce() -> (Decision, Option<Subject>)) -> Decision {
        let (mut d, subject) = catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| {
            let reason = Arc::from("the engine failed while deciding");
            (self.deny_without_rule(Code::EngineError, reason), None)
        });
        d.eval_ns = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        if let Some(audit) = &self.audit {
            audit.record(&d, subject, self.clock.now_ms());
        }
        d
    }
}

/// The values of the `audit.include_params` paths present in `params`, keyed by path.
fn included_params(
    paths: &[(String, Vec<String>)],
    params: &Value,
) -> Option<serde_json::Map<String, Value>> {
    if paths.is_empty() {
        return None;
    }
    let mut out = serde_json::Map::new();
    for (path, keys) in paths {
        let found = keys.iter().try_fold(params, |cur, k| {
            cur.as_object().and_then(|m| m.get(k.as_str()))
        });
        if let Some(v) = found {
            out.insert(path.clone(), v.clone());
        }
    }
    Some(out)
}

/// Runs a loader, turning a panic into a load error (a policy must never crash the host).
fn guarded(f: impl FnOnce() -> Result<Snapshot, PolicyError>) -> Result<Snapshot, PolicyError> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| {
        Err(PolicyError::new(
            "",
            "the engine failed while loading the policy",
        ))
    })
}

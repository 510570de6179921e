//! Where rate-limit admissions (§5.4) and approval grants (§5.5) live: in this process by
//! default, or in a store shared by several engines (§11.3) that another crate implements.
//!
//! A decision that needs state makes exactly one [`StateBackend::decide`] call, which finds
//! the grant (if the outcome is `require_approval`), checks every firing limit, and — only when
//! no limit is exhausted — admits the action in every limit and consumes one use of the grant,
//! all atomically. Decisions that fire no limit and look up no grant make no call at all.
use crate::approvals::Approvals;
use crate::limits::{Held, LimitState};
use crate::small::SmallList;
use std::fmt;

/// A SHA-256 digest.
pub type Digest = [u8; 32];

/// One firing rate limit of a decision.
#[derive(Debug, Clone, Copy)]
pub struct LimitCheck<'a> {
    /// The limit's identity, the same in every engine that loads the same rule: the SHA-256
    /// of its rule id, `max`, window and `per` set. Counters are kept per `(limit, key)`, so a
    /// policy update that keeps these carries the counters over (§5.4) and one that changes
    /// any of them starts from an empty counter.
    pub limit: Digest,
    /// The SHA-256 of the action's counter key (the `per` parts).
    pub key: Digest,
    /// `limit.max`: admissions allowed in any window.
    pub max: u32,
    /// The window's length in milliseconds.
    pub window_ms: u64,
    /// This engine's own counters for the limit, used by the in-process backend.
    pub(crate) local: Option<&'a LimitState>,
}

/// What one decision asks of the state.
#[derive(Debug, Clone, Copy)]
pub struct StateRequest<'a> {
    /// The engine's clock, in unix milliseconds.
    pub now_ms: i64,
    /// The action hash whose grant must cover the action (`require_approval` outcomes); the
    /// valid grant that expires first is used.
    pub grant: Option<&'a str>,
    /// The firing limits, in document order.
    pub limits: &'a [LimitCheck<'a>],
}

/// The answer to a [`StateRequest`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateOutcome {
    /// A grant was asked for and none is valid; nothing was admitted or consumed.
    NoGrant,
    /// `first` (an index into `limits`) is the first exhausted limit; `retry_after_ms` is the
    /// longest wait over every exhausted limit. Nothing was admitted or consumed.
    Exhausted {
        /// Index of the first exhausted limit in the request.
        first: usize,
        /// Longest wait, over the exhausted limits, until the oldest admission leaves.
        retry_after_ms: u64,
    },
    /// Every limit admitted the action at `now_ms`, and the grant (if any) lost one use.
    Admitted,
}

/// Why the state could not answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateError {
    /// A shared store did not answer in time or could not be reached: the decision is a deny
    /// with code `unavailable` (§11.3).
    Unavailable(String),
    /// The state is broken (a poisoned lock, a malformed answer): a deny with `engine_error`.
    Failed(String),
}

impl fmt::Display for StateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StateError::Unavailable(m) | StateError::Failed(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for StateError {}

/// Keeps rate-limit admissions and approval grants. Implementations must make
/// [`StateBackend::decide`] atomic (no other decision's step interleaves with it) and must
/// return within a bounded time (answer [`StateError::Unavailable`] rather than block).
pub trait StateBackend: Send + Sync + fmt::Debug {
    /// Finds the grant, checks the limits and, when every check passes, admits and consumes:
    /// see [`StateOutcome`].
    fn decide(&self, request: &StateRequest<'_>) -> Result<StateOutcome, StateError>;

    /// Stores a grant for `hash` made at `now_ms`, valid while the clock reads less than
    /// `now_ms + ttl_ms`, for `uses` allowed actions.
    fn grant(&self, hash: &str, now_ms: i64, ttl_ms: u64, uses: u32) -> Result<(), StateError>;

    /// [`StateBackend::decide`] as a dry run: the same answer, but nothing is admitted or
    /// consumed (for `Engine::explain`). A backend that cannot answer without side effects
    /// keeps the default, which fails closed.
    fn peek(&self, request: &StateRequest<'_>) -> Result<StateOutcome, StateError> {
        let _ = request;
        Err(StateError::Unavailable(
            "this state backend cannot answer a dry run".into(),
        ))
    }
}

/// The default backend: counters in the engine's policy snapshots (carried over by the loader)
/// and grants in a table of this engine.
#[derive(Debug, Default)]
pub(crate) struct InProcess {
    approvals: Approvals,
}

fn poisoned() -> StateError {
    StateError::Failed("the engine could not read its rate-limit or approval state".into())
}

impl StateBackend for InProcess {
    fn decide(&self, request: &StateRequest<'_>) -> Result<StateOutcome, StateError> {
        self.step(request, true)
    }

    fn peek(&self, request: &StateRequest<'_>) -> Result<StateOutcome, StateError> {
        self.step(request, false)
    }

    fn grant(&self, hash: &str, now_ms: i64, ttl_ms: u64, uses: u32) -> Result<(), StateError> {
        self.approvals
            .grant(hash, now_ms, ttl_ms, uses)
            .ok_or_else(poisoned)
    }
}

/// Locks every limit's counters, returned in request order. Locks are taken in one global
/// order (by address), never in document order: an update may list the same two limits in
/// the other order, and a decision on the old snapshot and one on the new would then each
/// hold one lock and wait for the other forever. A limit listed twice is refused (a second
/// lock of the same counters would wait for itself).
fn lock_all<'a>(limits: &[LimitCheck<'a>]) -> Result<Vec<Held<'a>>, StateError> {
    // (address, index in the request), sorted by address; inline for up to 8 limits.
    let mut order: SmallList<(usize, usize), 8> = SmallList::new((0, 0));
    for (i, check) in limits.iter().enumerate() {
        let state = check.local.ok_or_else(poisoned)?;
        order.push((std::ptr::from_ref(state) as usize, i));
    }
    order.as_mut_slice().sort_unstable();
    let mut slots: Vec<Option<Held<'a>>> =
        std::iter::repeat_with(|| None).take(limits.len()).collect();
    let mut last = None;
    for &(address, i) in order.as_slice() {
        if last == Some(address) {
            return Err(StateError::Failed(
                "a rate limit was listed twice in one decision".into(),
            ));
        }
        last = Some(address);
        let state = limits.get(i).and_then(|c| c.local).ok_or_else(poisoned)?;
        if let Some(slot) = slots.get_mut(i) {
            *slot = Some(state.lock().ok_or_else(poisoned)?);
        }
    }
    slots
        .into_iter()
        .collect::<Option<Vec<_>>>()
        .ok_or_else(poisoned)
}

impl InProcess {
    /// Finds the grant and checks the limits; admits and consumes only with `commit`.
    fn step(&self, request: &StateRequest<'_>, commit: bool) -> Result<StateOutcome, StateError> {
        let now = request.now_ms;
        let mut grant = None;
        if let Some(hash) = request.grant {
            let held = self.approvals.lock().ok_or_else(poisoned)?;
            match held.find(hash, now) {
                None => return Ok(StateOutcome::NoGrant),
                Some(which) => grant = Some((held, hash, which)),
            }
        }
        let mut held = lock_all(request.limits)?;
        let mut exhausted: Option<(usize, u64)> = None;
        for (i, (check, h)) in request.limits.iter().zip(held.iter_mut()).enumerate() {
            if let Err(retry) = h.check(&check.key, now, check.max, check.window_ms) {
                exhausted = Some(exhausted.map_or((i, retry), |(f, r)| (f, r.max(retry))));
            }
        }
        if let Some((first, retry_after_ms)) = exhausted {
            return Ok(StateOutcome::Exhausted {
                first,
                retry_after_ms,
            });
        }
        if !commit {
            return Ok(StateOutcome::Admitted);
        }
        for (check, h) in request.limits.iter().zip(held.iter_mut()) {
            h.admit(check.key, now, check.max);
        }
        if let Some((mut held, hash, which)) = grant {
            held.consume(hash, which);
        }
        Ok(StateOutcome::Admitted)
    }
}

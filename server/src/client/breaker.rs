//! The circuit breaker: after a run of failures that say something about the server, calls
//! fail at once for a cooldown; then one caller probes `GET /readyz`, and calls resume only
//! when it answers 200.
use super::error::CallError;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// An open breaker: until when calls fail at once, and the failure that opened it.
#[derive(Debug)]
struct Open {
    until: Instant,
    last: CallError,
}

#[derive(Debug, Default)]
struct Counts {
    /// Consecutive failures.
    failures: u32,
    open: Option<Open>,
}

/// The breaker of one client. `Send + Sync`.
#[derive(Debug)]
pub(super) struct Breaker {
    counts: Mutex<Counts>,
    /// Set while one caller probes `/readyz`; the others fail at once meanwhile.
    probing: AtomicBool,
    /// Consecutive failures that open it (0: never).
    threshold: u32,
    cooldown: Duration,
}

impl Breaker {
    pub(super) fn new(threshold: u32, cooldown: Duration) -> Breaker {
        Breaker {
            counts: Mutex::new(Counts::default()),
            probing: AtomicBool::new(false),
            threshold,
            cooldown,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Ok when a call may go out: the breaker is closed, or it is open, its cooldown passed
    /// and `probe` (a `GET /readyz` round trip giving its status) answered 200. Otherwise why
    /// not.
    pub(super) fn admit(
        &self,
        probe: impl FnOnce() -> Result<u16, CallError>,
    ) -> Result<(), CallError> {
        let last = match &self.lock().open {
            None => return Ok(()),
            Some(open) if Instant::now() < open.until => Some(open.last.clone()),
            Some(open) => self
                .probing
                .swap(true, Ordering::AcqRel)
                .then(|| open.last.clone()),
        };
        if let Some(last) = last {
            return Err(CallError::BreakerOpen {
                last: Box::new(last),
            });
        }
        // This caller alone probes (the flag was clear and is now set).
        let answer = probe();
        self.probing.store(false, Ordering::Release);
        let why = match answer {
            Ok(200) => {
                let mut c = self.lock();
                c.open = None;
                c.failures = 0;
                return Ok(());
            }
            Ok(status) => CallError::NotReady(status),
            Err(e) => CallError::ProbeFailed(Box::new(e)),
        };
        self.lock().open = Some(Open {
            until: Instant::now() + self.cooldown,
            last: why.clone(),
        });
        Err(why)
    }

    /// A call that the server answered (below 500).
    pub(super) fn success(&self) {
        self.lock().failures = 0;
    }

    /// A call that failed in a way that says something about the server.
    pub(super) fn failure(&self, error: &CallError) {
        let mut c = self.lock();
        c.failures = c.failures.saturating_add(1);
        if self.threshold > 0 && c.failures >= self.threshold {
            c.open = Some(Open {
                until: Instant::now() + self.cooldown,
                last: error.clone(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn refused() -> CallError {
        CallError::Closed {
            endpoint: "unix:x".into(),
        }
    }

    #[test]
    fn opens_after_the_threshold_and_closes_on_a_ready_probe() {
        let b = Breaker::new(2, Duration::ZERO);
        b.failure(&refused());
        assert!(b.admit(|| unreachable!("closed: no probe")).is_ok());
        b.failure(&refused());
        // Open, cooldown passed: the probe decides.
        let e = b.admit(|| Ok(503)).unwrap_err();
        assert_eq!(e.to_string(), "circuit breaker open: /readyz answered 503");
        let e = b.admit(|| Err(refused())).unwrap_err();
        assert!(matches!(e, CallError::ProbeFailed(_)), "{e}");
        assert!(b.admit(|| Ok(200)).is_ok());
        assert!(b.admit(|| unreachable!("closed again")).is_ok());
    }

    #[test]
    fn fails_at_once_during_the_cooldown_and_a_success_resets_the_run() {
        let b = Breaker::new(2, Duration::from_secs(3600));
        b.failure(&refused());
        b.success();
        b.failure(&refused());
        assert!(b.admit(|| unreachable!()).is_ok());
        b.failure(&refused());
        let e = b
            .admit(|| unreachable!("cooling down: no probe"))
            .unwrap_err();
        assert!(e.to_string().starts_with("circuit breaker open after repeated failures (last: the remote engine at unix:x closed"), "{e}");
    }

    #[test]
    fn never_opens_with_a_zero_threshold() {
        let b = Breaker::new(0, Duration::from_secs(3600));
        for _ in 0..100 {
            b.failure(&refused());
        }
        assert!(b.admit(|| unreachable!()).is_ok());
    }
}

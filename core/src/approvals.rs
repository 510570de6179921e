//! Approval grants bound to action hashes.
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

#[derive(Debug, Clone, Copy)]
struct Grant {
    /// Valid while the clock reads less than this.
    expires: i64,
    uses: u32,
}

/// Every grant made on one engine; they survive policy updates.
#[derive(Debug, Default)]
pub(crate) struct Approvals {
    grants: Mutex<HashMap<String, Vec<Grant>>>,
}

/// The grants, locked for a check-then-consume step.
pub(crate) struct HeldApprovals<'a> {
    guard: MutexGuard<'a, HashMap<String, Vec<Grant>>>,
}

/// Spent or expired grants are swept once the table holds this many hashes.
const SWEEP_AT: usize = 4096;

impl Approvals {
    pub(crate) fn lock(&self) -> Option<HeldApprovals<'_>> {
        self.grants.lock().ok().map(|guard| HeldApprovals { guard })
    }

    /// Adds a grant made at `now`; `None` when the lock is poisoned.
    pub(crate) fn grant(&self, hash: &str, now: i64, ttl_ms: u64, uses: u32) -> Option<()> {
        let mut held = self.lock()?;
        if held.guard.len() >= SWEEP_AT {
            held.guard.retain(|_, gs| {
                gs.retain(|g| g.uses > 0 && g.expires > now);
                !gs.is_empty()
            });
        }
        let expires = now.saturating_add(i64::try_from(ttl_ms).unwrap_or(i64::MAX));
        held.guard
            .entry(hash.to_owned())
            .or_default()
            .push(Grant { expires, uses });
        Some(())
    }
}

impl HeldApprovals<'_> {
    /// The valid grant for `hash` that expires first, if any.
    pub(crate) fn find(&self, hash: &str, now: i64) -> Option<usize> {
        let grants = self.guard.get(hash)?;
        grants
            .iter()
            .enumerate()
            .filter(|(_, g)| g.uses > 0 && now < g.expires)
            .min_by_key(|(_, g)| g.expires)
            .map(|(i, _)| i)
    }

    /// Uses one unit of the grant `find` returned.
    pub(crate) fn consume(&mut self, hash: &str, which: usize) {
        if let Some(grants) = self.guard.get_mut(hash) {
            if let Some(g) = grants.get_mut(which) {
                g.uses = g.uses.saturating_sub(1);
            }
            grants.retain(|g| g.uses > 0);
            if grants.is_empty() {
                self.guard.remove(hash);
            }
        }
    }
}

//! FNV-1a hashing for maps whose keys all come from the policy (tool names, agent ids).
//! Attacker-chosen strings are only looked up in these maps, never inserted, so a fast
//! non-keyed hash cannot be turned into a collision flood; maps with action-derived keys
//! (rate-limit counters, approval grants) keep the standard keyed hasher.
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const PRIME: u64 = 0x0000_0100_0000_01b3;

/// The FNV-1a hasher.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Fnv {
        Fnv(OFFSET)
    }
}

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(PRIME);
        }
    }
}

/// A map keyed by policy-defined strings.
pub(crate) type PolicyMap<K, V> = HashMap<K, V, BuildHasherDefault<Fnv>>;

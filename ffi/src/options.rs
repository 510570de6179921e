//! `portcullis_engine_options`: how an engine is created.
use std::mem;
use std::ptr;

use portcullis::{ClockMode, EngineOptions};

use crate::guard::Failure;
use crate::status::{PORTCULLIS_ERR_INVALID_ARGUMENT, PORTCULLIS_ERR_OPTIONS_SIZE};

/// `portcullis_engine_options.clock`: the engine reads the system clock (the default).
pub const PORTCULLIS_CLOCK_SYSTEM: u32 = 0;
/// `portcullis_engine_options.clock`: the engine has a manual clock that starts at `manual_start_ms`
/// and moves only through `portcullis_engine_set_time` (for tests and simulations).
pub const PORTCULLIS_CLOCK_MANUAL: u32 = 1;

/// Options for `portcullis_engine_new`. Fill it with `portcullis_engine_options_default` and change the
/// fields you need.
///
/// Versioned by size: `size` must be `sizeof(portcullis_engine_options)` as the caller's header
/// declares it. Later minor versions only append fields, so a library accepts any size at
/// least as large as version 1's and reads the fields it knows.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortcullisEngineOptions {
    /// `sizeof(portcullis_engine_options)`; smaller than version 1's size gives `PORTCULLIS_ERR_OPTIONS_SIZE`.
    pub size: u32,
    /// `PORTCULLIS_CLOCK_SYSTEM` or `PORTCULLIS_CLOCK_MANUAL`; anything else gives `PORTCULLIS_ERR_INVALID_ARGUMENT`.
    pub clock: u32,
    /// Start of the manual clock, in milliseconds since the Unix epoch (UTC). Ignored for
    /// `PORTCULLIS_CLOCK_SYSTEM`.
    pub manual_start_ms: i64,
    /// Most keys each rate-limit rule keeps; 0 means the default (100000).
    pub max_keys_per_limit: u64,
}

impl PortcullisEngineOptions {
    fn defaults() -> Self {
        PortcullisEngineOptions {
            size: V1_SIZE,
            clock: PORTCULLIS_CLOCK_SYSTEM,
            manual_start_ms: 0,
            max_keys_per_limit: u64::try_from(EngineOptions::default().max_keys_per_limit)
                .unwrap_or(u64::MAX),
        }
    }

    /// The core options these ABI options describe.
    fn to_engine_options(self) -> Result<EngineOptions, Failure> {
        let clock = match self.clock {
            PORTCULLIS_CLOCK_SYSTEM => ClockMode::System,
            PORTCULLIS_CLOCK_MANUAL => ClockMode::Manual {
                start_ms: self.manual_start_ms,
            },
            other => {
                let message = format!(
                    "options.clock is {other}; expected PORTCULLIS_CLOCK_SYSTEM (0) or \
                     PORTCULLIS_CLOCK_MANUAL (1)"
                );
                return Err(Failure::new(PORTCULLIS_ERR_INVALID_ARGUMENT, message));
            }
        };
        let max_keys_per_limit = match self.max_keys_per_limit {
            0 => EngineOptions::default().max_keys_per_limit,
            n => usize::try_from(n).unwrap_or(usize::MAX),
        };
        Ok(EngineOptions {
            clock,
            max_keys_per_limit,
            ..EngineOptions::default()
        })
    }
}

// INVARIANT: the size of version 1 of the struct. Fields are only ever appended, so this
// stays the smallest size a caller may declare.
const V1_SIZE: u32 = mem::size_of::<PortcullisEngineOptions>() as u32;

/// Reads the caller's options (NULL means the defaults) into core options.
///
/// # Safety
/// `options` is NULL or points to a readable `u32` `size` field followed, when `size` is at
/// least version 1's size, by a readable version-1 struct.
pub(crate) unsafe fn read(
    options: *const PortcullisEngineOptions,
) -> Result<EngineOptions, Failure> {
    if options.is_null() {
        return PortcullisEngineOptions::defaults().to_engine_options();
    }
    // SAFETY: a non-NULL `options` points at least to its leading `size` field (caller's
    // guarantee); only that field is read here, so a caller's shorter struct is not overread.
    let size = unsafe { ptr::addr_of!((*options).size).read_unaligned() };
    if size < V1_SIZE {
        return Err(Failure::new(
            PORTCULLIS_ERR_OPTIONS_SIZE,
            format!(
                "options.size is {size}; expected sizeof(portcullis_engine_options), at least {V1_SIZE}"
            ),
        ));
    }
    // SAFETY: `size` says the caller's struct holds at least the version-1 fields, and the
    // caller guarantees they are readable.
    let options = unsafe { options.read_unaligned() };
    options.to_engine_options()
}

/// Fills `*out` with the default options: current `size`, `PORTCULLIS_CLOCK_SYSTEM`,
/// `manual_start_ms` 0, `max_keys_per_limit` 100000. Does nothing when `out` is NULL.
///
/// Thread-safe.
///
/// # Safety
/// `out` is NULL or valid for a write of one `portcullis_engine_options`.
#[no_mangle]
pub unsafe extern "C" fn portcullis_engine_options_default(out: *mut PortcullisEngineOptions) {
    if out.is_null() {
        return;
    }
    // SAFETY: the caller guarantees a non-NULL `out` is valid for a write of the struct.
    unsafe { out.write_unaligned(PortcullisEngineOptions::defaults()) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_one_is_24_bytes() {
        assert_eq!(V1_SIZE, 24);
    }

    #[test]
    fn null_means_defaults() {
        // SAFETY: NULL is allowed.
        let options = unsafe { read(ptr::null()) }.unwrap();
        assert_eq!(options.clock, ClockMode::System);
        assert_eq!(options.max_keys_per_limit, 100_000);
    }

    #[test]
    fn manual_clock_and_key_limit_are_read() {
        let mut raw = PortcullisEngineOptions::defaults();
        raw.clock = PORTCULLIS_CLOCK_MANUAL;
        raw.manual_start_ms = 1_767_225_600_000;
        raw.max_keys_per_limit = 7;
        // SAFETY: `raw` is a live struct.
        let options = unsafe { read(&raw) }.unwrap();
        assert_eq!(
            options.clock,
            ClockMode::Manual {
                start_ms: 1_767_225_600_000
            }
        );
        assert_eq!(options.max_keys_per_limit, 7);
    }

    #[test]
    fn a_short_size_is_rejected() {
        let mut raw = PortcullisEngineOptions::defaults();
        raw.size = 16;
        // SAFETY: `raw` is a live struct.
        let failure = unsafe { read(&raw) }.unwrap_err();
        assert_eq!(failure.status, PORTCULLIS_ERR_OPTIONS_SIZE);
        assert!(failure.message.contains("16"), "{}", failure.message);
    }

    #[test]
    fn an_unknown_clock_is_rejected() {
        let mut raw = PortcullisEngineOptions::defaults();
        raw.clock = 2;
        // SAFETY: `raw` is a live struct.
        let failure = unsafe { read(&raw) }.unwrap_err();
        assert_eq!(failure.status, PORTCULLIS_ERR_INVALID_ARGUMENT);
    }
}

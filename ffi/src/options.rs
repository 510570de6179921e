//! `portcullis_engine_options`: how an engine is created.
use std::ffi::{c_char, CStr};
use std::mem;
use std::ptr;

use portcullis::{ClockMode, EngineOptions, StateBackend};
use std::sync::Arc;

use crate::guard::Failure;
use crate::status::{
    PORTCULLIS_ERR_INVALID_ARGUMENT, PORTCULLIS_ERR_INVALID_UTF8, PORTCULLIS_ERR_OPTIONS_SIZE,
};

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
#[derive(Debug, Clone, Copy)]
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
    /// Version 2. Where rate-limit admissions and approval grants are kept: NULL (or "") keeps
    /// them in this engine; a NUL-terminated `redis://...` or `rediss://...` URL shares them
    /// with every engine on that store (docs/shared-state.md). Read only during
    /// `portcullis_engine_new`. A malformed URL gives `PORTCULLIS_ERR_INVALID_ARGUMENT`; an
    /// unreachable store does not fail creation (decisions that need it are denied
    /// `unavailable` until it answers).
    pub state_url: *const c_char,
}

impl PortcullisEngineOptions {
    fn defaults() -> Self {
        PortcullisEngineOptions {
            size: CURRENT_SIZE as u32,
            clock: PORTCULLIS_CLOCK_SYSTEM,
            manual_start_ms: 0,
            max_keys_per_limit: u64::try_from(EngineOptions::default().max_keys_per_limit)
                .unwrap_or(u64::MAX),
            state_url: ptr::null(),
        }
    }

    /// The core options these ABI options describe.
    ///
    /// # Safety
    /// `self.state_url` is NULL or a NUL-terminated string readable for the duration of the call.
    unsafe fn to_engine_options(self) -> Result<EngineOptions, Failure> {
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
        // SAFETY: the caller guarantees `state_url` is NULL or a readable string.
        let state = unsafe { shared_state(self.state_url) }?;
        Ok(EngineOptions {
            clock,
            max_keys_per_limit,
            state,
        })
    }
}

/// Opens the store `url` names (lazily: no I/O happens here).
///
/// # Safety
/// `url` is NULL or a NUL-terminated string readable for the duration of the call.
unsafe fn shared_state(url: *const c_char) -> Result<Option<Arc<dyn StateBackend>>, Failure> {
    if url.is_null() {
        return Ok(None);
    }
    // SAFETY: `url` is non-NULL and NUL-terminated (caller's guarantee).
    let bytes = unsafe { CStr::from_ptr(url) }.to_bytes();
    let url = std::str::from_utf8(bytes).map_err(|e| {
        Failure::new(
            PORTCULLIS_ERR_INVALID_UTF8,
            format!(
                "options.state_url is not valid UTF-8 (invalid byte at offset {})",
                e.valid_up_to()
            ),
        )
    })?;
    if url.is_empty() {
        return Ok(None);
    }
    connect(url)
}

#[cfg(feature = "redis")]
fn connect(url: &str) -> Result<Option<Arc<dyn StateBackend>>, Failure> {
    match portcullis_redis::RedisState::connect(url) {
        Ok(state) => Ok(Some(Arc::new(state))),
        Err(e) => Err(Failure::new(
            PORTCULLIS_ERR_INVALID_ARGUMENT,
            format!("options.state_url: {e}"),
        )),
    }
}

#[cfg(not(feature = "redis"))]
fn connect(_url: &str) -> Result<Option<Arc<dyn StateBackend>>, Failure> {
    Err(Failure::new(
        PORTCULLIS_ERR_INVALID_ARGUMENT,
        "options.state_url is set, but this library was built without shared state \
         (cargo feature `redis` of portcullis-ffi)",
    ))
}

// INVARIANT: the size of version 1 of the struct (`size` through `max_keys_per_limit`), the
// smallest size a caller may declare. Fields are only ever appended.
const V1_SIZE: u32 = 24;

// The size of the struct this library knows (version 2 adds `state_url`).
const CURRENT_SIZE: usize = mem::size_of::<PortcullisEngineOptions>();

/// Reads the caller's options (NULL means the defaults) into core options.
///
/// # Safety
/// `options` is NULL or points to a readable `u32` `size` field followed, when `size` is at
/// least version 1's size, by a readable struct of that size whose `state_url` (when the size
/// covers it) is NULL or a readable NUL-terminated string.
pub(crate) unsafe fn read(
    options: *const PortcullisEngineOptions,
) -> Result<EngineOptions, Failure> {
    if options.is_null() {
        // SAFETY: the defaults' `state_url` is NULL.
        return unsafe { PortcullisEngineOptions::defaults().to_engine_options() };
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
    // Fields the caller's (older) struct does not have keep their defaults.
    let mut known = PortcullisEngineOptions::defaults();
    let len = usize::try_from(size).map_or(CURRENT_SIZE, |s| s.min(CURRENT_SIZE));
    // SAFETY: `size` says the caller's struct holds its first `len` bytes (at least the
    // version-1 fields), which the caller guarantees are readable; `known` is a live struct of
    // `CURRENT_SIZE >= len` bytes with the same layout for those bytes, and the two do not
    // overlap.
    unsafe {
        ptr::copy_nonoverlapping(
            options.cast::<u8>(),
            ptr::addr_of_mut!(known).cast::<u8>(),
            len,
        );
    }
    // SAFETY: `state_url` is NULL (a version-1 caller) or the caller's, which it guarantees
    // is NULL or a readable NUL-terminated string.
    unsafe { known.to_engine_options() }
}

/// Fills `*out` with the default options: current `size`, `PORTCULLIS_CLOCK_SYSTEM`,
/// `manual_start_ms` 0, `max_keys_per_limit` 100000, `state_url` NULL. Does nothing when
/// `out` is NULL.
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
    fn version_one_is_24_bytes_and_version_two_appends_the_state_url() {
        assert_eq!(V1_SIZE, 24);
        assert_eq!(mem::offset_of!(PortcullisEngineOptions, state_url), 24);
        assert_eq!(CURRENT_SIZE, 24 + mem::size_of::<*const c_char>());
    }

    /// A version-1 caller: only 24 bytes are readable, and they are all that is read.
    #[test]
    fn a_version_one_struct_is_read_without_its_missing_fields() {
        let mut raw = PortcullisEngineOptions::defaults();
        raw.size = V1_SIZE;
        raw.max_keys_per_limit = 9;
        let v1: Box<[u8; 24]> = Box::new({
            let mut b = [0u8; 24];
            // SAFETY: `raw` is a live struct of at least 24 bytes.
            unsafe {
                ptr::copy_nonoverlapping(ptr::addr_of!(raw).cast::<u8>(), b.as_mut_ptr(), 24)
            };
            b
        });
        // SAFETY: the buffer holds a version-1 struct (24 readable bytes).
        let options = unsafe { read(v1.as_ptr().cast()) }.unwrap();
        assert_eq!(options.max_keys_per_limit, 9);
        assert!(options.state.is_none());
    }

    #[test]
    fn a_state_url_is_read_and_a_malformed_one_is_rejected() {
        let mut raw = PortcullisEngineOptions::defaults();
        let good = c"redis://127.0.0.1:1/0";
        raw.state_url = good.as_ptr();
        // SAFETY: `raw` is a live struct whose URL is a live C string.
        let options = unsafe { read(&raw) };
        #[cfg(feature = "redis")]
        assert!(options.unwrap().state.is_some());
        #[cfg(not(feature = "redis"))]
        assert_eq!(options.unwrap_err().status, PORTCULLIS_ERR_INVALID_ARGUMENT);

        let empty = c"";
        raw.state_url = empty.as_ptr();
        // SAFETY: as above.
        assert!(unsafe { read(&raw) }.unwrap().state.is_none());

        let bad = c"http://127.0.0.1:6379";
        raw.state_url = bad.as_ptr();
        // SAFETY: as above.
        let failure = unsafe { read(&raw) }.unwrap_err();
        assert_eq!(failure.status, PORTCULLIS_ERR_INVALID_ARGUMENT);
        assert!(failure.message.contains("state_url"), "{}", failure.message);

        let not_utf8 = c"redis://\xff";
        raw.state_url = not_utf8.as_ptr();
        // SAFETY: as above.
        let failure = unsafe { read(&raw) }.unwrap_err();
        assert_eq!(failure.status, PORTCULLIS_ERR_INVALID_UTF8);
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

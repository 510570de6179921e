//! Status codes: what every fallible export returns.
use std::ffi::{c_char, CStr};

/// The result of a fallible call: `PORTCULLIS_OK` or one of the `PORTCULLIS_ERR_*` values. Values are
/// explicit and never reused for another meaning.
pub type PortcullisStatus = i32;

/// The call succeeded and wrote its out-parameters.
pub const PORTCULLIS_OK: PortcullisStatus = 0;
/// A pointer parameter that must not be NULL was NULL. Nothing was written.
pub const PORTCULLIS_ERR_NULL_POINTER: PortcullisStatus = 1;
/// Text that must be UTF-8 (an action hash) was not.
pub const PORTCULLIS_ERR_INVALID_UTF8: PortcullisStatus = 2;
/// The policy document could not be loaded; the `portcullis_error` gives its path and message.
pub const PORTCULLIS_ERR_POLICY: PortcullisStatus = 3;
/// An argument is out of range or malformed (ttl_ms 0, uses 0, a malformed hash, an unknown
/// clock kind, a length above PTRDIFF_MAX).
pub const PORTCULLIS_ERR_INVALID_ARGUMENT: PortcullisStatus = 4;
/// The action given to `portcullis_engine_approve_action` is not a valid action. (Evaluation never
/// returns this: it denies a bad action with code `PORTCULLIS_CODE_INVALID_ACTION` instead.)
pub const PORTCULLIS_ERR_INVALID_ACTION: PortcullisStatus = 5;
/// `portcullis_engine_set_time` was called on an engine that reads the system clock.
pub const PORTCULLIS_ERR_CLOCK: PortcullisStatus = 6;
/// The library panicked during this call. The call had no effect beyond what the engine
/// documents as atomic; other calls are not affected.
pub const PORTCULLIS_ERR_PANIC: PortcullisStatus = 7;
/// `portcullis_engine_options.size` or `portcullis_audit_options.size` is smaller than the struct's size in
/// the ABI version that introduced it.
pub const PORTCULLIS_ERR_OPTIONS_SIZE: PortcullisStatus = 8;
/// The audit trail cannot be opened or written (the `portcullis_error` message names the file and the
/// operating system's error).
pub const PORTCULLIS_ERR_AUDIT: PortcullisStatus = 9;
/// The shared state (`portcullis_engine_options.state_url`) did not answer in time, so an
/// approval could not be recorded (ABI 2.2). Nothing was granted; retry once the store is back.
pub const PORTCULLIS_ERR_UNAVAILABLE: PortcullisStatus = 10;

/// Returns the name of a status code, e.g. "PORTCULLIS_ERR_POLICY", or "PORTCULLIS_UNKNOWN_STATUS" for a
/// value this library does not define.
///
/// Ownership: the string is static and NUL-terminated; do not free it. Thread-safe; never
/// fails.
#[no_mangle]
pub extern "C" fn portcullis_status_name(status: PortcullisStatus) -> *const c_char {
    status_name(status).as_ptr()
}

pub(crate) fn status_name(status: PortcullisStatus) -> &'static CStr {
    match status {
        PORTCULLIS_OK => c"PORTCULLIS_OK",
        PORTCULLIS_ERR_NULL_POINTER => c"PORTCULLIS_ERR_NULL_POINTER",
        PORTCULLIS_ERR_INVALID_UTF8 => c"PORTCULLIS_ERR_INVALID_UTF8",
        PORTCULLIS_ERR_POLICY => c"PORTCULLIS_ERR_POLICY",
        PORTCULLIS_ERR_INVALID_ARGUMENT => c"PORTCULLIS_ERR_INVALID_ARGUMENT",
        PORTCULLIS_ERR_INVALID_ACTION => c"PORTCULLIS_ERR_INVALID_ACTION",
        PORTCULLIS_ERR_CLOCK => c"PORTCULLIS_ERR_CLOCK",
        PORTCULLIS_ERR_PANIC => c"PORTCULLIS_ERR_PANIC",
        PORTCULLIS_ERR_OPTIONS_SIZE => c"PORTCULLIS_ERR_OPTIONS_SIZE",
        PORTCULLIS_ERR_AUDIT => c"PORTCULLIS_ERR_AUDIT",
        PORTCULLIS_ERR_UNAVAILABLE => c"PORTCULLIS_ERR_UNAVAILABLE",
        _ => c"PORTCULLIS_UNKNOWN_STATUS",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_has_its_own_name() {
        let all = [
            (PORTCULLIS_OK, "PORTCULLIS_OK"),
            (PORTCULLIS_ERR_NULL_POINTER, "PORTCULLIS_ERR_NULL_POINTER"),
            (PORTCULLIS_ERR_INVALID_UTF8, "PORTCULLIS_ERR_INVALID_UTF8"),
            (PORTCULLIS_ERR_POLICY, "PORTCULLIS_ERR_POLICY"),
            (
                PORTCULLIS_ERR_INVALID_ARGUMENT,
                "PORTCULLIS_ERR_INVALID_ARGUMENT",
            ),
            (
                PORTCULLIS_ERR_INVALID_ACTION,
                "PORTCULLIS_ERR_INVALID_ACTION",
            ),
            (PORTCULLIS_ERR_CLOCK, "PORTCULLIS_ERR_CLOCK"),
            (PORTCULLIS_ERR_PANIC, "PORTCULLIS_ERR_PANIC"),
            (PORTCULLIS_ERR_OPTIONS_SIZE, "PORTCULLIS_ERR_OPTIONS_SIZE"),
            (PORTCULLIS_ERR_AUDIT, "PORTCULLIS_ERR_AUDIT"),
            (PORTCULLIS_ERR_UNAVAILABLE, "PORTCULLIS_ERR_UNAVAILABLE"),
        ];
        for (status, name) in all {
            assert_eq!(status_name(status).to_str().unwrap(), name);
        }
        assert_eq!(
            status_name(11).to_str().unwrap(),
            "PORTCULLIS_UNKNOWN_STATUS"
        );
        assert_eq!(
            status_name(-1).to_str().unwrap(),
            "PORTCULLIS_UNKNOWN_STATUS"
        );
    }
}

//! Status codes: what every fallible export returns.
use std::ffi::{c_char, CStr};

/// The result of a fallible call: `AG_OK` or one of the `AG_ERR_*` values. Values are
/// explicit and never reused for another meaning.
pub type AgStatus = i32;

/// The call succeeded and wrote its out-parameters.
pub const AG_OK: AgStatus = 0;
/// A pointer parameter that must not be NULL was NULL. Nothing was written.
pub const AG_ERR_NULL_POINTER: AgStatus = 1;
/// Text that must be UTF-8 (an action hash) was not.
pub const AG_ERR_INVALID_UTF8: AgStatus = 2;
/// The policy document could not be loaded; the `ag_error` gives its path and message.
pub const AG_ERR_POLICY: AgStatus = 3;
/// An argument is out of range or malformed (ttl_ms 0, uses 0, a malformed hash, an unknown
/// clock kind, a length above PTRDIFF_MAX).
pub const AG_ERR_INVALID_ARGUMENT: AgStatus = 4;
/// The action given to `ag_engine_approve_action` is not a valid action. (Evaluation never
/// returns this: it denies a bad action with code `AG_CODE_INVALID_ACTION` instead.)
pub const AG_ERR_INVALID_ACTION: AgStatus = 5;
/// `ag_engine_set_time` was called on an engine that reads the system clock.
pub const AG_ERR_CLOCK: AgStatus = 6;
/// The library panicked during this call. The call had no effect beyond what the engine
/// documents as atomic; other calls are not affected.
pub const AG_ERR_PANIC: AgStatus = 7;
/// `ag_engine_options.size` or `ag_audit_options.size` is smaller than the struct's size in
/// the ABI version that introduced it.
pub const AG_ERR_OPTIONS_SIZE: AgStatus = 8;
/// The audit trail cannot be opened or written (the `ag_error` message names the file and the
/// operating system's error). Since ABI 1.1.
pub const AG_ERR_AUDIT: AgStatus = 9;

/// Returns the name of a status code, e.g. "AG_ERR_POLICY", or "AG_UNKNOWN_STATUS" for a
/// value this library does not define.
///
/// Ownership: the string is static and NUL-terminated; do not free it. Thread-safe; never
/// fails.
#[no_mangle]
pub extern "C" fn ag_status_name(status: AgStatus) -> *const c_char {
    status_name(status).as_ptr()
}

pub(crate) fn status_name(status: AgStatus) -> &'static CStr {
    match status {
        AG_OK => c"AG_OK",
        AG_ERR_NULL_POINTER => c"AG_ERR_NULL_POINTER",
        AG_ERR_INVALID_UTF8 => c"AG_ERR_INVALID_UTF8",
        AG_ERR_POLICY => c"AG_ERR_POLICY",
        AG_ERR_INVALID_ARGUMENT => c"AG_ERR_INVALID_ARGUMENT",
        AG_ERR_INVALID_ACTION => c"AG_ERR_INVALID_ACTION",
        AG_ERR_CLOCK => c"AG_ERR_CLOCK",
        AG_ERR_PANIC => c"AG_ERR_PANIC",
        AG_ERR_OPTIONS_SIZE => c"AG_ERR_OPTIONS_SIZE",
        AG_ERR_AUDIT => c"AG_ERR_AUDIT",
        _ => c"AG_UNKNOWN_STATUS",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_has_its_own_name() {
        let all = [
            (AG_OK, "AG_OK"),
            (AG_ERR_NULL_POINTER, "AG_ERR_NULL_POINTER"),
            (AG_ERR_INVALID_UTF8, "AG_ERR_INVALID_UTF8"),
            (AG_ERR_POLICY, "AG_ERR_POLICY"),
            (AG_ERR_INVALID_ARGUMENT, "AG_ERR_INVALID_ARGUMENT"),
            (AG_ERR_INVALID_ACTION, "AG_ERR_INVALID_ACTION"),
            (AG_ERR_CLOCK, "AG_ERR_CLOCK"),
            (AG_ERR_PANIC, "AG_ERR_PANIC"),
            (AG_ERR_OPTIONS_SIZE, "AG_ERR_OPTIONS_SIZE"),
            (AG_ERR_AUDIT, "AG_ERR_AUDIT"),
        ];
        for (status, name) in all {
            assert_eq!(status_name(status).to_str().unwrap(), name);
        }
        assert_eq!(status_name(10).to_str().unwrap(), "AG_UNKNOWN_STATUS");
        assert_eq!(status_name(-1).to_str().unwrap(), "AG_UNKNOWN_STATUS");
    }
}

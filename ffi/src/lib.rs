//! The C ABI of portcullis.
//!
//! This crate is the only C ABI of the engine and the only crate with `unsafe` code. Every
//! exported function has the same three layers, put in one place by the `call` module: check
//! the pointers it was given, run the safe core inside `catch_unwind` (a panic becomes
//! `PORTCULLIS_ERR_PANIC` for that call only), and write the results through out-parameters. There is no thread-local "last error": error details
//! come back as an owned `portcullis_error`.
//!
//! The header `include/portcullis.h` is generated from this source by `tools/gen-header`
//! (cbindgen); the doc comments below are its documentation.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

// The exported modules, in the order the generated header lists them (keep the blank lines:
// they stop rustfmt from sorting the declarations).
mod status;

mod options;

mod decision;

mod details;

mod engine;

mod audit;

mod buffer;

mod error;

// Internal helpers.
mod call;
mod guard;
mod input;

pub use audit::{
    portcullis_audit_options_default, portcullis_engine_audit_stats, portcullis_engine_drain_audit,
    portcullis_engine_flush_audit, portcullis_engine_new_audited, PortcullisAuditOptions,
    PortcullisAuditStats, PORTCULLIS_AUDIT_FILE, PORTCULLIS_AUDIT_MEMORY, PORTCULLIS_AUDIT_NONE,
    PORTCULLIS_OVERFLOW_BLOCK, PORTCULLIS_OVERFLOW_DROP,
};
pub use buffer::{
    portcullis_buffer_data, portcullis_buffer_free, portcullis_buffer_len, PortcullisBuffer,
};
pub use decision::{
    PortcullisDecision, PORTCULLIS_CODE_APPROVAL_REQUIRED, PORTCULLIS_CODE_APPROVED,
    PORTCULLIS_CODE_DEFAULT, PORTCULLIS_CODE_ENGINE_ERROR, PORTCULLIS_CODE_INVALID_ACTION,
    PORTCULLIS_CODE_RATE_LIMITED, PORTCULLIS_CODE_RULE, PORTCULLIS_CODE_UNAVAILABLE,
    PORTCULLIS_CODE_UNKNOWN_AGENT, PORTCULLIS_EFFECT_ALLOW, PORTCULLIS_EFFECT_DENY,
    PORTCULLIS_EFFECT_REQUIRE_APPROVAL,
};
pub use details::{
    portcullis_decision_details_free, PortcullisDecisionDetails, PortcullisDecisionStorage,
    PortcullisShadowHit, PortcullisStr, PORTCULLIS_RULE_EFFECT_ALLOW, PORTCULLIS_RULE_EFFECT_DENY,
    PORTCULLIS_RULE_EFFECT_RATE_LIMIT, PORTCULLIS_RULE_EFFECT_REQUIRE_APPROVAL,
};
pub use engine::{
    portcullis_engine_approve_action, portcullis_engine_approve_hash, portcullis_engine_evaluate,
    portcullis_engine_evaluate_details, portcullis_engine_evaluate_json, portcullis_engine_explain,
    portcullis_engine_free, portcullis_engine_new, portcullis_engine_now,
    portcullis_engine_set_time, portcullis_engine_update_policy, PortcullisEngine,
};
pub use error::{
    portcullis_error_free, portcullis_error_message, portcullis_error_path,
    portcullis_error_status, PortcullisError,
};
pub use options::{
    portcullis_engine_options_default, PortcullisEngineOptions, PORTCULLIS_CLOCK_MANUAL,
    PORTCULLIS_CLOCK_SYSTEM,
};
pub use status::{
    portcullis_status_name, PortcullisStatus, PORTCULLIS_ERR_AUDIT, PORTCULLIS_ERR_CLOCK,
    PORTCULLIS_ERR_INVALID_ACTION, PORTCULLIS_ERR_INVALID_ARGUMENT, PORTCULLIS_ERR_INVALID_UTF8,
    PORTCULLIS_ERR_NULL_POINTER, PORTCULLIS_ERR_OPTIONS_SIZE, PORTCULLIS_ERR_PANIC,
    PORTCULLIS_ERR_POLICY, PORTCULLIS_ERR_UNAVAILABLE, PORTCULLIS_OK,
};

use std::ffi::c_char;

/// Major version of this C ABI. A library whose major version differs from the one a program
/// was compiled against is incompatible with it.
pub const PORTCULLIS_ABI_VERSION_MAJOR: u32 = 2;

/// Minor version of this C ABI. Minor versions only add functions, constants, structs or
/// trailing fields of the size-versioned option structs; a program compiled against minor
/// version N runs on any library with the same major version and a minor version >= N.
/// Version 2.0 is the first under the name portcullis (1.x was the same ABI with other prefixes);
/// 2.1 appends `state_url` to `portcullis_engine_options`; 2.2 adds
/// `portcullis_engine_evaluate_details` (the whole decision without JSON) and
/// `PORTCULLIS_ERR_UNAVAILABLE`.
pub const PORTCULLIS_ABI_VERSION_MINOR: u32 = 2;

/// Returns the ABI version of the loaded library: `(PORTCULLIS_ABI_VERSION_MAJOR << 16) |
/// PORTCULLIS_ABI_VERSION_MINOR`.
///
/// Compare it with the macros of the header the program was compiled against before any
/// other call. Thread-safe; never fails.
#[no_mangle]
pub extern "C" fn portcullis_abi_version() -> u32 {
    (PORTCULLIS_ABI_VERSION_MAJOR << 16) | PORTCULLIS_ABI_VERSION_MINOR
}

/// Returns the version of the library (the crate version, e.g. "0.1.0").
///
/// Ownership: the string is static and NUL-terminated; do not free it. Thread-safe; never
/// fails.
#[no_mangle]
pub extern "C" fn portcullis_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

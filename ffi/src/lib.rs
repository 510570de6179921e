//! The C ABI of agentgate.
//!
//! This crate is the only C ABI of the engine and the only crate with `unsafe` code. Every
//! exported function has the same three layers: check the pointers it was given, run the safe
//! core inside `catch_unwind` (a panic becomes `AG_ERR_PANIC` for that call only), and write
//! the results through out-parameters. There is no thread-local "last error": error details
//! come back as an owned `ag_error`.
//!
//! The header `include/agentgate.h` is generated from this source by `tools/gen-header`
//! (cbindgen); the doc comments below are its documentation.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )
)]

// The exported modules, in the order the generated header lists them (keep the blank lines:
// they stop rustfmt from sorting the declarations).
mod status;

mod options;

mod decision;

mod engine;

mod audit;

mod buffer;

mod error;

// Internal helpers.
mod guard;
mod input;

pub use audit::{
    ag_audit_options_default, ag_engine_audit_stats, ag_engine_drain_audit, ag_engine_flush_audit,
    ag_engine_new_audited, AgAuditOptions, AgAuditStats, AG_AUDIT_FILE, AG_AUDIT_MEMORY,
    AG_AUDIT_NONE, AG_OVERFLOW_BLOCK, AG_OVERFLOW_DROP,
};
pub use buffer::{ag_buffer_data, ag_buffer_free, ag_buffer_len, AgBuffer};
pub use decision::{
    AgDecision, AG_CODE_APPROVAL_REQUIRED, AG_CODE_APPROVED, AG_CODE_DEFAULT, AG_CODE_ENGINE_ERROR,
    AG_CODE_INVALID_ACTION, AG_CODE_RATE_LIMITED, AG_CODE_RULE, AG_CODE_UNKNOWN_AGENT,
    AG_EFFECT_ALLOW, AG_EFFECT_DENY, AG_EFFECT_REQUIRE_APPROVAL,
};
pub use engine::{
    ag_engine_approve_action, ag_engine_approve_hash, ag_engine_evaluate, ag_engine_evaluate_json,
    ag_engine_free, ag_engine_new, ag_engine_now, ag_engine_set_time, ag_engine_update_policy,
    AgEngine,
};
pub use error::{ag_error_free, ag_error_message, ag_error_path, ag_error_status, AgError};
pub use options::{ag_engine_options_default, AgEngineOptions, AG_CLOCK_MANUAL, AG_CLOCK_SYSTEM};
pub use status::{
    ag_status_name, AgStatus, AG_ERR_AUDIT, AG_ERR_CLOCK, AG_ERR_INVALID_ACTION,
    AG_ERR_INVALID_ARGUMENT, AG_ERR_INVALID_UTF8, AG_ERR_NULL_POINTER, AG_ERR_OPTIONS_SIZE,
    AG_ERR_PANIC, AG_ERR_POLICY, AG_OK,
};

use std::ffi::c_char;

/// Major version of this C ABI. A library whose major version differs from the one a program
/// was compiled against is incompatible with it.
pub const AG_ABI_VERSION_MAJOR: u32 = 1;

/// Minor version of this C ABI. Minor versions only add functions, constants, structs or
/// trailing fields of the size-versioned option structs; a program compiled against minor
/// version N runs on any library with the same major version and a minor version >= N.
/// Version 1.1 added the audit trail (`ag_engine_new_audited` and the `ag_audit_*` items).
pub const AG_ABI_VERSION_MINOR: u32 = 1;

/// Returns the ABI version of the loaded library: `(AG_ABI_VERSION_MAJOR << 16) |
/// AG_ABI_VERSION_MINOR`.
///
/// Compare it with the macros of the header the program was compiled against before any
/// other call. Thread-safe; never fails.
#[no_mangle]
pub extern "C" fn ag_abi_version() -> u32 {
    (AG_ABI_VERSION_MAJOR << 16) | AG_ABI_VERSION_MINOR
}

/// Returns the version of the library (the crate version, e.g. "0.1.0").
///
/// Ownership: the string is static and NUL-terminated; do not free it. Thread-safe; never
/// fails.
#[no_mangle]
pub extern "C" fn ag_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

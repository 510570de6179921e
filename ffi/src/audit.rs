//! The audit trail across the ABI (since 1.1): `ag_audit_options`, `ag_engine_new_audited`,
//! draining, flushing and counting records.
use std::ffi::{c_char, CStr};
use std::mem;
use std::ptr;

use agentgate::{AuditOptions, AuditSink, FileSink, Overflow};

use crate::buffer::AgBuffer;
use crate::engine::{create_engine, engine_ref, AgEngine};
use crate::error::{finish, AgError};
use crate::guard::{guarded, Failure};
use crate::options::AgEngineOptions;
use crate::status::{
    AgStatus, AG_ERR_INVALID_ARGUMENT, AG_ERR_INVALID_UTF8, AG_ERR_NULL_POINTER,
    AG_ERR_OPTIONS_SIZE, AG_OK,
};

/// `ag_audit_options.sink`: no audit trail (the engine behaves as one from `ag_engine_new`).
pub const AG_AUDIT_NONE: u32 = 0;
/// `ag_audit_options.sink`: an append-only JSON-lines file at `path`, written by a background
/// thread of the engine.
pub const AG_AUDIT_FILE: u32 = 1;
/// `ag_audit_options.sink`: records wait in the engine's queue until the host takes them with
/// `ag_engine_drain_audit`.
pub const AG_AUDIT_MEMORY: u32 = 2;

/// `ag_audit_options.overflow`: when the queue is full, evaluation waits for room; no record
/// is ever lost (the default). With `AG_AUDIT_MEMORY` the host must keep draining, or
/// evaluations block once `queue_capacity` records wait.
pub const AG_OVERFLOW_BLOCK: u32 = 0;
/// `ag_audit_options.overflow`: when the queue is full, evaluation never waits; the record is
/// dropped and counted, and the trail gets a `"dropped"` record with the count.
pub const AG_OVERFLOW_DROP: u32 = 1;

/// The largest `queue_capacity` accepted: the queue's slots are allocated up front.
const MAX_QUEUE_CAPACITY: u64 = 1 << 20;

/// How an engine from `ag_engine_new_audited` records its decisions. Fill it with
/// `ag_audit_options_default` and change the fields you need.
///
/// Every decision becomes one JSON line (keys in RFC 8785 order) with `seq` (1, 2, ... without
/// gaps), `type` (`"decision"`, or `"dropped"` / `"recovered"` for the trail's own events),
/// `time`, `agent`, `kind`, `tool`, `target`, `effect`, `code`, `rule`, `reason`, `policy`,
/// `action_hash`, `eval_ns`, `params` (only the policy's `audit.include_params` paths), `prev`
/// (the previous record's `hash`) and `hash` (SHA-256 of the record without `hash`): a
/// tamper-evident chain that `agentgate-audit verify` checks.
///
/// Versioned by size like `ag_engine_options`: `size` must be `sizeof(ag_audit_options)` as
/// the caller's header declares it; later minor versions only append fields.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AgAuditOptions {
    /// `sizeof(ag_audit_options)`; smaller than the size in ABI 1.1 gives `AG_ERR_OPTIONS_SIZE`.
    pub size: u32,
    /// `AG_AUDIT_NONE`, `AG_AUDIT_FILE` or `AG_AUDIT_MEMORY`; anything else gives
    /// `AG_ERR_INVALID_ARGUMENT`.
    pub sink: u32,
    /// The trail file for `AG_AUDIT_FILE`: a NUL-terminated UTF-8 path, created when missing
    /// and appended to (the chain continues from its last record). Read only during
    /// `ag_engine_new_audited`. NULL or "" gives `AG_ERR_INVALID_ARGUMENT`, bytes that are not
    /// UTF-8 `AG_ERR_INVALID_UTF8`. Ignored for the other sinks.
    pub path: *const c_char,
    /// `AG_AUDIT_FILE`: once the file holds at least this many bytes it is renamed
    /// `PATH.000001` (then `.000002`, ...) and a new file continues the chain; 0 never rotates.
    pub max_bytes: u64,
    /// `AG_AUDIT_FILE`: written records reach the file at least this often, in milliseconds;
    /// 0 means the default (200).
    pub flush_interval_ms: u64,
    /// Records the queue holds before `overflow` applies; 0 means the default (65536). At most
    /// 1048576 (the queue is allocated up front); more gives `AG_ERR_INVALID_ARGUMENT`.
    pub queue_capacity: u64,
    /// `AG_OVERFLOW_BLOCK` or `AG_OVERFLOW_DROP`; anything else gives `AG_ERR_INVALID_ARGUMENT`.
    pub overflow: u32,
    /// `AG_AUDIT_FILE`: 1 to `fsync` the file after every batch written, 0 not to; anything
    /// else gives `AG_ERR_INVALID_ARGUMENT`.
    pub fsync: u8,
}

/// Audit counters, filled by `ag_engine_audit_stats`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AgAuditStats {
    /// Decision records written to the file (`AG_AUDIT_FILE`) or handed out by
    /// `ag_engine_drain_audit` (`AG_AUDIT_MEMORY`).
    pub recorded: u64,
    /// Decision records dropped because the queue was full (`AG_OVERFLOW_DROP`).
    pub dropped: u64,
}

// INVARIANT: the size of the struct in ABI 1.1, which introduced it. Fields are only ever
// appended, so this stays the smallest size a caller may declare.
const V1_SIZE: u32 = mem::size_of::<AgAuditOptions>() as u32;

impl AgAuditOptions {
    fn defaults() -> Self {
        let core = AuditOptions::default();
        AgAuditOptions {
            size: V1_SIZE,
            sink: AG_AUDIT_NONE,
            path: ptr::null(),
            max_bytes: 0,
            flush_interval_ms: FileSink::new("").flush_interval_ms,
            queue_capacity: u64::try_from(core.queue_capacity).unwrap_or(u64::MAX),
            overflow: AG_OVERFLOW_BLOCK,
            fsync: 0,
        }
    }

    /// The core options these ABI options describe.
    ///
    /// # Safety
    /// `self.path` is NULL or a NUL-terminated string readable for the duration of the call.
    unsafe fn to_audit_options(self) -> Result<AuditOptions, Failure> {
        let invalid = |message: String| Failure::new(AG_ERR_INVALID_ARGUMENT, message);
        let overflow = match self.overflow {
            AG_OVERFLOW_BLOCK => Overflow::Block,
            AG_OVERFLOW_DROP => Overflow::Drop,
            other => {
                return Err(invalid(format!(
                    "audit.overflow is {other}; expected AG_OVERFLOW_BLOCK (0) or \
                     AG_OVERFLOW_DROP (1)"
                )))
            }
        };
        let fsync = match self.fsync {
            0 => false,
            1 => true,
            other => return Err(invalid(format!("audit.fsync is {other}; expected 0 or 1"))),
        };
        let queue_capacity = match self.queue_capacity {
            0 => AuditOptions::default().queue_capacity,
            n if n > MAX_QUEUE_CAPACITY => {
                return Err(invalid(format!(
                    "audit.queue_capacity is {n}; at most {MAX_QUEUE_CAPACITY} records can be \
                     queued"
                )))
            }
            n => usize::try_from(n).unwrap_or(usize::MAX),
        };
        let sink = match self.sink {
            AG_AUDIT_NONE => AuditSink::None,
            AG_AUDIT_MEMORY => AuditSink::Memory,
            AG_AUDIT_FILE => {
                // SAFETY: `path` is NULL or a readable NUL-terminated string (caller's
                // guarantee).
                let path = unsafe { file_path(self.path) }?;
                let mut file = FileSink::new(path);
                file.max_bytes = self.max_bytes;
                if self.flush_interval_ms != 0 {
                    file.flush_interval_ms = self.flush_interval_ms;
                }
                file.fsync = fsync;
                AuditSink::File(file)
            }
            other => {
                return Err(invalid(format!(
                    "audit.sink is {other}; expected AG_AUDIT_NONE (0), AG_AUDIT_FILE (1) or \
                     AG_AUDIT_MEMORY (2)"
                )))
            }
        };
        Ok(AuditOptions {
            sink,
            queue_capacity,
            overflow,
        })
    }
}

/// Reads the file sink's path.
///
/// # Safety
/// `path` is NULL or a NUL-terminated string readable for the duration of the call.
unsafe fn file_path(path: *const c_char) -> Result<String, Failure> {
    if path.is_null() {
        return Err(Failure::new(
            AG_ERR_INVALID_ARGUMENT,
            "audit.path is NULL; AG_AUDIT_FILE needs the path of the trail file",
        ));
    }
    // SAFETY: `path` is non-NULL and NUL-terminated (caller's guarantee).
    let bytes = unsafe { CStr::from_ptr(path) }.to_bytes();
    let text = std::str::from_utf8(bytes).map_err(|err| {
        Failure::new(
            AG_ERR_INVALID_UTF8,
            format!(
                "audit.path is not valid UTF-8 (invalid byte at offset {})",
                err.valid_up_to()
            ),
        )
    })?;
    if text.is_empty() {
        return Err(Failure::new(
            AG_ERR_INVALID_ARGUMENT,
            "audit.path is empty; AG_AUDIT_FILE needs the path of the trail file",
        ));
    }
    Ok(text.to_owned())
}

/// Reads the caller's audit options into core options.
///
/// # Safety
/// `audit` is non-NULL and points to a readable `u32` `size` field followed, when `size` is at
/// least version 1's size, by a readable version-1 struct whose `path` is NULL or a readable
/// NUL-terminated string.
pub(crate) unsafe fn read(audit: *const AgAuditOptions) -> Result<AuditOptions, Failure> {
    // SAFETY: a non-NULL `audit` points at least to its leading `size` field (caller's
    // guarantee); only that field is read here, so a caller's shorter struct is not overread.
    let size = unsafe { ptr::addr_of!((*audit).size).read_unaligned() };
    if size < V1_SIZE {
        return Err(Failure::new(
            AG_ERR_OPTIONS_SIZE,
            format!("audit.size is {size}; expected sizeof(ag_audit_options), at least {V1_SIZE}"),
        ));
    }
    // SAFETY: `size` says the caller's struct holds at least the version-1 fields, and the
    // caller guarantees they are readable.
    let audit = unsafe { audit.read_unaligned() };
    // SAFETY: the caller guarantees `path` is NULL or a readable NUL-terminated string.
    unsafe { audit.to_audit_options() }
}

/// Fills `*out` with the default audit options: current `size`, `AG_AUDIT_NONE`, `path`
/// NULL, `max_bytes` 0 (no rotation), `flush_interval_ms` 200, `queue_capacity` 65536,
/// `AG_OVERFLOW_BLOCK`, `fsync` 0. Does nothing when `out` is NULL. Since ABI 1.1.
///
/// Thread-safe.
///
/// # Safety
/// `out` is NULL or valid for a write of one `ag_audit_options`.
#[no_mangle]
pub unsafe extern "C" fn ag_audit_options_default(out: *mut AgAuditOptions) {
    if out.is_null() {
        return;
    }
    // SAFETY: the caller guarantees a non-NULL `out` is valid for a write of the struct.
    unsafe { out.write_unaligned(AgAuditOptions::defaults()) };
}

/// Creates an engine like `ag_engine_new` that also writes every decision to the audit trail
/// `audit` describes. Since ABI 1.1.
///
/// `options` may be NULL for the defaults; `audit` must not be NULL (use `ag_engine_new` for
/// an engine without a trail). The policy is loaded first: a bad policy gives `AG_ERR_POLICY`
/// and never creates or touches the trail. A trail file that cannot be opened (a missing
/// directory, no permission, a last record that is not a record of a trail) gives
/// `AG_ERR_AUDIT`, with an `ag_error` whose path is "" and whose message names the file and the
/// operating system's error. Bad audit options give `AG_ERR_OPTIONS_SIZE`,
/// `AG_ERR_INVALID_ARGUMENT` or `AG_ERR_INVALID_UTF8`. On failure `*out_engine` is set to NULL;
/// on `AG_ERR_NULL_POINTER` (`policy`, `audit` or `out_engine` NULL) nothing is written.
///
/// `out_error` may be NULL. Otherwise `*out_error` is set to NULL on success and to a new
/// `ag_error` the caller owns on failure.
///
/// With `AG_AUDIT_FILE`, the engine runs a writer thread until `ag_engine_free`, which writes
/// the records still queued before it returns. With `AG_AUDIT_MEMORY`, records wait for
/// `ag_engine_drain_audit`; those not drained when the engine is freed are lost.
///
/// Thread-safe: it touches no shared state (two engines must not write the same file).
///
/// # Safety
/// `policy` is readable for `policy_len` bytes; `options` is NULL or a readable
/// `ag_engine_options` whose `size` is set; `audit` is a readable `ag_audit_options` whose
/// `size` is set and whose `path` is NULL or a NUL-terminated string; `out_engine` and
/// `out_error` (if not NULL) are writable.
#[no_mangle]
pub unsafe extern "C" fn ag_engine_new_audited(
    policy: *const u8,
    policy_len: usize,
    options: *const AgEngineOptions,
    audit: *const AgAuditOptions,
    out_engine: *mut *mut AgEngine,
    out_error: *mut *mut AgError,
) -> AgStatus {
    if policy.is_null() || audit.is_null() || out_engine.is_null() {
        return AG_ERR_NULL_POINTER;
    }
    // SAFETY: the pointers are as `create_engine` requires (caller's guarantee), and `audit`
    // is not NULL.
    unsafe { create_engine(policy, policy_len, options, audit, out_engine, out_error) }
}

/// Takes up to `max_records` records from the in-memory trail of an engine created with
/// `AG_AUDIT_MEMORY`, in chain order. Since ABI 1.1.
///
/// On `AG_OK`, `*out_lines` is a new buffer the caller owns and must release with
/// `ag_buffer_free`: the records as JSON lines, each ending in '\n' (empty when there is
/// nothing to take), and `*out_count` is the number of lines. A record of how many decisions
/// were dropped since the last call (`AG_OVERFLOW_DROP`) comes first and counts as one of the
/// `max_records`. Records taken are gone from the engine: each is handed out exactly once.
/// An engine with a file sink or without a trail always gives no records. `max_records` 0
/// gives `AG_ERR_INVALID_ARGUMENT` (`*out_lines` NULL, `*out_count` 0). On
/// `AG_ERR_NULL_POINTER` nothing is written.
///
/// Thread-safe: may run concurrently with any call on the same engine but `ag_engine_free`;
/// concurrent drains each get a part of the chain, in order, and no record twice.
///
/// # Safety
/// `engine` is a live engine; `out_lines` and `out_count` are writable.
#[no_mangle]
pub unsafe extern "C" fn ag_engine_drain_audit(
    engine: *const AgEngine,
    max_records: usize,
    out_lines: *mut *mut AgBuffer,
    out_count: *mut usize,
) -> AgStatus {
    if engine.is_null() || out_lines.is_null() || out_count.is_null() {
        return AG_ERR_NULL_POINTER;
    }
    // SAFETY: `engine` is non-NULL and live for this call (caller's guarantee).
    let engine = unsafe { engine_ref(engine) };
    let outcome = guarded(|| {
        if max_records == 0 {
            return Err(Failure::new(
                AG_ERR_INVALID_ARGUMENT,
                "max_records must be at least 1",
            ));
        }
        let records = engine.drain_audit(max_records);
        let count = records.len();
        Ok((AgBuffer::into_raw(records.concat()), count))
    });
    let ((lines, count), status) = match outcome {
        Ok(taken) => (taken, AG_OK),
        Err(failure) => ((ptr::null_mut(), 0), failure.status),
    };
    // SAFETY: `out_lines` and `out_count` are non-NULL and writable (caller's guarantee).
    unsafe {
        out_lines.write(lines);
        out_count.write(count);
    }
    status
}

/// Waits until every decision made so far is written to the trail file and flushed to the
/// operating system (and, with `fsync` 1, to the disk). Since ABI 1.1.
///
/// A no-op returning `AG_OK` for an engine with a memory sink or without a trail. When the
/// file cannot be written (now, or at an earlier batch), returns `AG_ERR_AUDIT`; the error's
/// message names the file and the operating system's error. `out_error` may be NULL;
/// otherwise it is set as for `ag_engine_new`. On `AG_ERR_NULL_POINTER` nothing is written.
///
/// Thread-safe: may run concurrently with any call on the same engine but `ag_engine_free`.
/// It blocks until the writer thread has written the records queued before the call.
///
/// # Safety
/// `engine` is a live engine; `out_error` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn ag_engine_flush_audit(
    engine: *const AgEngine,
    out_error: *mut *mut AgError,
) -> AgStatus {
    if engine.is_null() {
        return AG_ERR_NULL_POINTER;
    }
    // SAFETY: `engine` is non-NULL and live for this call (caller's guarantee).
    let engine = unsafe { engine_ref(engine) };
    let outcome = guarded(|| Ok(engine.flush_audit()?));
    // SAFETY: `out_error` is NULL or writable (caller's guarantee).
    unsafe { finish(outcome, out_error) }
}

/// Writes the engine's audit counters to `*out` (both 0 for an engine without a trail). Since
/// ABI 1.1.
///
/// `recorded + dropped` equals the number of decisions made once every record has been
/// written (file sink: after `ag_engine_flush_audit`) or drained (memory sink). On
/// `AG_ERR_NULL_POINTER` nothing is written.
///
/// Thread-safe: may run concurrently with any call on the same engine but `ag_engine_free`.
///
/// # Safety
/// `engine` is a live engine; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn ag_engine_audit_stats(
    engine: *const AgEngine,
    out: *mut AgAuditStats,
) -> AgStatus {
    if engine.is_null() || out.is_null() {
        return AG_ERR_NULL_POINTER;
    }
    // SAFETY: `engine` is non-NULL and live for this call (caller's guarantee).
    let engine = unsafe { engine_ref(engine) };
    match guarded(|| Ok(engine.audit_stats())) {
        Ok(stats) => {
            // SAFETY: `out` is non-NULL and writable (caller's guarantee).
            unsafe {
                out.write(AgAuditStats {
                    recorded: stats.recorded,
                    dropped: stats.dropped,
                })
            };
            AG_OK
        }
        Err(failure) => failure.status,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CString;

    #[test]
    fn version_one_is_48_bytes() {
        assert_eq!(V1_SIZE, 48);
    }

    #[test]
    fn defaults_are_the_cores() {
        let raw = AgAuditOptions::defaults();
        assert_eq!(raw.flush_interval_ms, 200);
        assert_eq!(raw.queue_capacity, 65_536);
        // SAFETY: `raw` is a live struct with a NULL path.
        let options = unsafe { read(&raw) }.unwrap();
        assert_eq!(options, AuditOptions::default());
    }

    #[test]
    fn a_file_sink_reads_every_field() {
        let path = CString::new("/var/log/agentgate/audit.log").unwrap();
        let mut raw = AgAuditOptions::defaults();
        raw.sink = AG_AUDIT_FILE;
        raw.path = path.as_ptr();
        raw.max_bytes = 1 << 20;
        raw.flush_interval_ms = 0;
        raw.queue_capacity = 16;
        raw.overflow = AG_OVERFLOW_DROP;
        raw.fsync = 1;
        // SAFETY: `raw` is a live struct; `path` outlives the call.
        let options = unsafe { read(&raw) }.unwrap();
        let mut file = FileSink::new("/var/log/agentgate/audit.log");
        file.max_bytes = 1 << 20;
        file.fsync = true;
        assert_eq!(
            options,
            AuditOptions {
                sink: AuditSink::File(file),
                queue_capacity: 16,
                overflow: Overflow::Drop,
            }
        );
    }

    #[test]
    fn bad_fields_are_refused_with_their_status() {
        let not_utf8 = CString::new(vec![b'/', 0xff, b'a']).unwrap();
        let empty = CString::new("").unwrap();
        type Change = fn(&mut AgAuditOptions);
        let cases: [(Change, AgStatus, &str); 9] = [
            (|o| o.size = 40, AG_ERR_OPTIONS_SIZE, "audit.size is 40"),
            (|o| o.sink = 3, AG_ERR_INVALID_ARGUMENT, "audit.sink is 3"),
            (
                |o| o.overflow = 2,
                AG_ERR_INVALID_ARGUMENT,
                "audit.overflow is 2",
            ),
            (|o| o.fsync = 2, AG_ERR_INVALID_ARGUMENT, "audit.fsync is 2"),
            (
                |o| o.queue_capacity = (1 << 20) + 1,
                AG_ERR_INVALID_ARGUMENT,
                "audit.queue_capacity is 1048577",
            ),
            (
                |o| o.queue_capacity = u64::MAX,
                AG_ERR_INVALID_ARGUMENT,
                "audit.queue_capacity",
            ),
            (
                |o| o.sink = AG_AUDIT_FILE,
                AG_ERR_INVALID_ARGUMENT,
                "audit.path is NULL",
            ),
            (
                |o| o.sink = AG_AUDIT_FILE | 0x8000_0000,
                AG_ERR_INVALID_ARGUMENT,
                "audit.sink",
            ),
            (|o| o.fsync = 255, AG_ERR_INVALID_ARGUMENT, "audit.fsync"),
        ];
        for (change, status, message) in cases {
            let mut raw = AgAuditOptions::defaults();
            change(&mut raw);
            // SAFETY: `raw` is a live struct with a NULL path.
            let failure = unsafe { read(&raw) }.unwrap_err();
            assert_eq!(failure.status, status, "{message}");
            assert!(failure.message.contains(message), "{}", failure.message);
        }
        for (path, status, message) in [
            (&not_utf8, AG_ERR_INVALID_UTF8, "offset 1"),
            (&empty, AG_ERR_INVALID_ARGUMENT, "audit.path is empty"),
        ] {
            let mut raw = AgAuditOptions::defaults();
            raw.sink = AG_AUDIT_FILE;
            raw.path = path.as_ptr();
            // SAFETY: `raw` is a live struct; `path` outlives the call.
            let failure = unsafe { read(&raw) }.unwrap_err();
            assert_eq!(failure.status, status);
            assert!(failure.message.contains(message), "{}", failure.message);
        }
    }

    #[test]
    fn the_path_is_ignored_without_a_file_sink() {
        let mut raw = AgAuditOptions::defaults();
        raw.sink = AG_AUDIT_MEMORY;
        raw.fsync = 1;
        // SAFETY: `raw` is a live struct with a NULL path.
        let options = unsafe { read(&raw) }.unwrap();
        assert_eq!(options.sink, AuditSink::Memory);
    }
}

//! The audit trail across the ABI (ABI 2.0): `portcullis_audit_options`, `portcullis_engine_new_audited`,
//! draining, flushing and counting records.
use std::ffi::{c_char, CStr};
use std::mem;
use std::ptr;

use portcullis::{AuditOptions, AuditSink, FileSink, Overflow};

use crate::buffer::PortcullisBuffer;
use crate::call::on_engine;
use crate::engine::{create_engine, PortcullisEngine};
use crate::error::PortcullisError;
use crate::guard::Failure;
use crate::options::PortcullisEngineOptions;
use crate::status::{
    PortcullisStatus, PORTCULLIS_ERR_INVALID_ARGUMENT, PORTCULLIS_ERR_INVALID_UTF8,
    PORTCULLIS_ERR_NULL_POINTER, PORTCULLIS_ERR_OPTIONS_SIZE,
};

/// `portcullis_audit_options.sink`: no audit trail (the engine behaves as one from `portcullis_engine_new`).
pub const PORTCULLIS_AUDIT_NONE: u32 = 0;
/// `portcullis_audit_options.sink`: an append-only JSON-lines file at `path`, written by a background
/// thread of the engine.
pub const PORTCULLIS_AUDIT_FILE: u32 = 1;
/// `portcullis_audit_options.sink`: records wait in the engine's queue until the host takes them with
/// `portcullis_engine_drain_audit`.
pub const PORTCULLIS_AUDIT_MEMORY: u32 = 2;

/// `portcullis_audit_options.overflow`: when the queue is full, evaluation waits for room; no record
/// is ever lost (the default). With `PORTCULLIS_AUDIT_MEMORY` the host must keep draining, or
/// evaluations block once `queue_capacity` records wait.
pub const PORTCULLIS_OVERFLOW_BLOCK: u32 = 0;
/// `portcullis_audit_options.overflow`: when the queue is full, evaluation never waits; the record is
/// dropped and counted, and the trail gets a `"dropped"` record with the count.
pub const PORTCULLIS_OVERFLOW_DROP: u32 = 1;

/// The largest `queue_capacity` accepted: the queue's slots are allocated up front.
const MAX_QUEUE_CAPACITY: u64 = portcullis::limits_info::MAX_QUEUE_CAPACITY as u64;

/// How an engine from `portcullis_engine_new_audited` records its decisions. Fill it with
/// `portcullis_audit_options_default` and change the fields you need.
///
/// Every decision becomes one JSON line (keys in RFC 8785 order) with `seq` (1, 2, ... without
/// gaps), `type` (`"decision"`, or `"dropped"` / `"recovered"` for the trail's own events),
/// `time`, `agent`, `kind`, `tool`, `target`, `effect`, `code`, `rule`, `reason`, `policy`,
/// `action_hash`, `eval_ns`, `params` (only the policy's `audit.include_params` paths), `prev`
/// (the previous record's `hash`) and `hash` (SHA-256 of the record without `hash`): a
/// tamper-evident chain that `portcullis audit verify` checks.
///
/// Versioned by size like `portcullis_engine_options`: `size` must be `sizeof(portcullis_audit_options)` as
/// the caller's header declares it; later minor versions only append fields.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortcullisAuditOptions {
    /// `sizeof(portcullis_audit_options)`; smaller than the size in ABI 2.0 gives `PORTCULLIS_ERR_OPTIONS_SIZE`.
    pub size: u32,
    /// `PORTCULLIS_AUDIT_NONE`, `PORTCULLIS_AUDIT_FILE` or `PORTCULLIS_AUDIT_MEMORY`; anything else gives
    /// `PORTCULLIS_ERR_INVALID_ARGUMENT`.
    pub sink: u32,
    /// The trail file for `PORTCULLIS_AUDIT_FILE`: a NUL-terminated UTF-8 path, created when missing
    /// (mode 0600) and appended to (the chain continues from its last record, or from the
    /// newest rotated file's). A symbolic link is refused, and the engine holds an exclusive
    /// lock on the file: a second engine on the same trail gets `PORTCULLIS_ERR_AUDIT`. Read only during
    /// `portcullis_engine_new_audited`. NULL or "" gives `PORTCULLIS_ERR_INVALID_ARGUMENT`, bytes that are not
    /// UTF-8 `PORTCULLIS_ERR_INVALID_UTF8`. Ignored for the other sinks.
    pub path: *const c_char,
    /// `PORTCULLIS_AUDIT_FILE`: once the file holds at least this many bytes it is renamed
    /// `PATH.000001` (then `.000002`, ...: one more than the highest number present) and a new
    /// file continues the chain; 0 never rotates.
    pub max_bytes: u64,
    /// `PORTCULLIS_AUDIT_FILE`: written records reach the file at least this often, in milliseconds;
    /// 0 means the default (200).
    pub flush_interval_ms: u64,
    /// Records the queue holds before `overflow` applies; 0 means the default (65536). At most
    /// 1048576 (the queue is allocated up front); more gives `PORTCULLIS_ERR_INVALID_ARGUMENT`.
    pub queue_capacity: u64,
    /// `PORTCULLIS_OVERFLOW_BLOCK` or `PORTCULLIS_OVERFLOW_DROP`; anything else gives `PORTCULLIS_ERR_INVALID_ARGUMENT`.
    pub overflow: u32,
    /// `PORTCULLIS_AUDIT_FILE`: 1 to `fsync` the file after every batch written, 0 not to; anything
    /// else gives `PORTCULLIS_ERR_INVALID_ARGUMENT`.
    pub fsync: u8,
}

/// Audit counters, filled by `portcullis_engine_audit_stats`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PortcullisAuditStats {
    /// Decision records written to the file (`PORTCULLIS_AUDIT_FILE`) or handed out by
    /// `portcullis_engine_drain_audit` (`PORTCULLIS_AUDIT_MEMORY`).
    pub recorded: u64,
    /// Decision records dropped because the queue was full (`PORTCULLIS_OVERFLOW_DROP`).
    pub dropped: u64,
}

// INVARIANT: the size of the struct in ABI 2.0, which introduced it. Fields are only ever
// appended, so this stays the smallest size a caller may declare.
const V1_SIZE: u32 = mem::size_of::<PortcullisAuditOptions>() as u32;

impl PortcullisAuditOptions {
    fn defaults() -> Self {
        let core = AuditOptions::default();
        PortcullisAuditOptions {
            size: V1_SIZE,
            sink: PORTCULLIS_AUDIT_NONE,
            path: ptr::null(),
            max_bytes: 0,
            flush_interval_ms: FileSink::new("").flush_interval_ms,
            queue_capacity: u64::try_from(core.queue_capacity).unwrap_or(u64::MAX),
            overflow: PORTCULLIS_OVERFLOW_BLOCK,
            fsync: 0,
        }
    }

    /// The core options these ABI options describe.
    ///
    /// # Safety
    /// `self.path` is NULL or a NUL-terminated string readable for the duration of the call.
    unsafe fn to_audit_options(self) -> Result<AuditOptions, Failure> {
        let invalid = |message: String| Failure::new(PORTCULLIS_ERR_INVALID_ARGUMENT, message);
        let overflow = match self.overflow {
            PORTCULLIS_OVERFLOW_BLOCK => Overflow::Block,
            PORTCULLIS_OVERFLOW_DROP => Overflow::Drop,
            other => {
                return Err(invalid(format!(
                    "audit.overflow is {other}; expected PORTCULLIS_OVERFLOW_BLOCK (0) or \
                     PORTCULLIS_OVERFLOW_DROP (1)"
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
            PORTCULLIS_AUDIT_NONE => AuditSink::None,
            PORTCULLIS_AUDIT_MEMORY => AuditSink::Memory,
            PORTCULLIS_AUDIT_FILE => {
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
                    "audit.sink is {other}; expected PORTCULLIS_AUDIT_NONE (0), PORTCULLIS_AUDIT_FILE (1) or \
                     PORTCULLIS_AUDIT_MEMORY (2)"
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
            PORTCULLIS_ERR_INVALID_ARGUMENT,
            "audit.path is NULL; PORTCULLIS_AUDIT_FILE needs the path of the trail file",
        ));
    }
    // SAFETY: `path` is non-NULL and NUL-terminated (caller's guarantee).
    let bytes = unsafe { CStr::from_ptr(path) }.to_bytes();
    let text = std::str::from_utf8(bytes).map_err(|err| {
        Failure::new(
            PORTCULLIS_ERR_INVALID_UTF8,
            format!(
                "audit.path is not valid UTF-8 (invalid byte at offset {})",
                err.valid_up_to()
            ),
        )
    })?;
    if text.is_empty() {
        return Err(Failure::new(
            PORTCULLIS_ERR_INVALID_ARGUMENT,
            "audit.path is empty; PORTCULLIS_AUDIT_FILE needs the path of the trail file",
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
pub(crate) unsafe fn read(audit: *const PortcullisAuditOptions) -> Result<AuditOptions, Failure> {
    // SAFETY: a non-NULL `audit` points at least to its leading `size` field (caller's
    // guarantee); only that field is read here, so a caller's shorter struct is not overread.
    let size = unsafe { ptr::addr_of!((*audit).size).read_unaligned() };
    if size < V1_SIZE {
        return Err(Failure::new(
            PORTCULLIS_ERR_OPTIONS_SIZE,
            format!("audit.size is {size}; expected sizeof(portcullis_audit_options), at least {V1_SIZE}"),
        ));
    }
    // SAFETY: `size` says the caller's struct holds at least the version-1 fields, and the
    // caller guarantees they are readable.
    let audit = unsafe { audit.read_unaligned() };
    // SAFETY: the caller guarantees `path` is NULL or a readable NUL-terminated string.
    unsafe { audit.to_audit_options() }
}

/// Fills `*out` with the default audit options: current `size`, `PORTCULLIS_AUDIT_NONE`, `path`
/// NULL, `max_bytes` 0 (no rotation), `flush_interval_ms` 200, `queue_capacity` 65536,
/// `PORTCULLIS_OVERFLOW_BLOCK`, `fsync` 0. Does nothing when `out` is NULL.
///
/// Thread-safe.
///
/// # Safety
/// `out` is NULL or valid for a write of one `portcullis_audit_options`.
#[no_mangle]
pub unsafe extern "C" fn portcullis_audit_options_default(out: *mut PortcullisAuditOptions) {
    if out.is_null() {
        return;
    }
    // SAFETY: the caller guarantees a non-NULL `out` is valid for a write of the struct.
    unsafe { out.write_unaligned(PortcullisAuditOptions::defaults()) };
}

/// Creates an engine like `portcullis_engine_new` that also writes every decision to the audit trail
/// `audit` describes.
///
/// `options` may be NULL for the defaults; `audit` must not be NULL (use `portcullis_engine_new` for
/// an engine without a trail). The policy is loaded first: a bad policy gives `PORTCULLIS_ERR_POLICY`
/// and never creates or touches the trail. A trail file that cannot be opened (a missing
/// directory, no permission, a last record that is not a record of a trail) gives
/// `PORTCULLIS_ERR_AUDIT`, with a `portcullis_error` whose path is "" and whose message names the file and the
/// operating system's error. Bad audit options give `PORTCULLIS_ERR_OPTIONS_SIZE`,
/// `PORTCULLIS_ERR_INVALID_ARGUMENT` or `PORTCULLIS_ERR_INVALID_UTF8`. On failure `*out_engine` is set to NULL;
/// on `PORTCULLIS_ERR_NULL_POINTER` (`policy`, `audit` or `out_engine` NULL) nothing is written.
///
/// `out_error` may be NULL. Otherwise `*out_error` is set to NULL on success and to a new
/// `portcullis_error` the caller owns on failure.
///
/// With `PORTCULLIS_AUDIT_FILE`, the engine runs a writer thread until `portcullis_engine_free`, which writes
/// the records still queued before it returns. With `PORTCULLIS_AUDIT_MEMORY`, records wait for
/// `portcullis_engine_drain_audit`; those not drained when the engine is freed are lost.
///
/// Thread-safe: it touches no shared state (two engines must not write the same file).
///
/// # Safety
/// `policy` is readable for `policy_len` bytes; `options` is NULL or a readable
/// `portcullis_engine_options` whose `size` is set; `audit` is a readable `portcullis_audit_options` whose
/// `size` is set and whose `path` is NULL or a NUL-terminated string; `out_engine` and
/// `out_error` (if not NULL) are writable.
#[no_mangle]
pub unsafe extern "C" fn portcullis_engine_new_audited(
    policy: *const u8,
    policy_len: usize,
    options: *const PortcullisEngineOptions,
    audit: *const PortcullisAuditOptions,
    out_engine: *mut *mut PortcullisEngine,
    out_error: *mut *mut PortcullisError,
) -> PortcullisStatus {
    if policy.is_null() || audit.is_null() || out_engine.is_null() {
        return PORTCULLIS_ERR_NULL_POINTER;
    }
    // SAFETY: the pointers are as `create_engine` requires (caller's guarantee), and `audit`
    // is not NULL.
    unsafe { create_engine(policy, policy_len, options, audit, out_engine, out_error) }
}

/// Takes up to `max_records` records from the in-memory trail of an engine created with
/// `PORTCULLIS_AUDIT_MEMORY`, in chain order.
///
/// On `PORTCULLIS_OK`, `*out_lines` is a new buffer the caller owns and must release with
/// `portcullis_buffer_free`: the records as JSON lines, each ending in '\n' (empty when there is
/// nothing to take), and `*out_count` is the number of lines. A record of how many decisions
/// were dropped since the last call (`PORTCULLIS_OVERFLOW_DROP`) comes first and counts as one of the
/// `max_records`. Records taken are gone from the engine: each is handed out exactly once.
/// An engine with a file sink or without a trail always gives no records. `max_records` 0
/// gives `PORTCULLIS_ERR_INVALID_ARGUMENT` (`*out_lines` NULL, `*out_count` 0). On
/// `PORTCULLIS_ERR_NULL_POINTER` nothing is written.
///
/// Thread-safe: may run concurrently with any call on the same engine but `portcullis_engine_free`;
/// concurrent drains each get a part of the chain, in order, and no record twice.
///
/// # Safety
/// `engine` is a live engine; `out_lines` and `out_count` are writable.
#[no_mangle]
pub unsafe extern "C" fn portcullis_engine_drain_audit(
    engine: *const PortcullisEngine,
    max_records: usize,
    out_lines: *mut *mut PortcullisBuffer,
    out_count: *mut usize,
) -> PortcullisStatus {
    if out_lines.is_null() || out_count.is_null() {
        return PORTCULLIS_ERR_NULL_POINTER;
    }
    let taken = |(lines, count)| {
        // SAFETY: `out_lines` and `out_count` are non-NULL and writable (caller's guarantee).
        unsafe {
            out_lines.write(lines);
            out_count.write(count);
        }
    };
    // SAFETY: `engine` is NULL or live for this call (caller's guarantee).
    unsafe {
        on_engine(engine, |engine| {
            if max_records == 0 {
                return Err(Failure::new(
                    PORTCULLIS_ERR_INVALID_ARGUMENT,
                    "max_records must be at least 1",
                ));
            }
            let records = engine.drain_audit(max_records);
            let count = records.len();
            Ok((PortcullisBuffer::into_raw(records.concat()), count))
        })
    }
    .deliver((ptr::null_mut(), 0), taken)
}

/// Waits until every decision made so far is written to the trail file and flushed to the
/// operating system (and, with `fsync` 1, to the disk).
///
/// A no-op returning `PORTCULLIS_OK` for an engine with a memory sink or without a trail. While the
/// file cannot be written (a full disk), returns `PORTCULLIS_ERR_AUDIT` at once; the error's
/// message says how many records are not written yet and names the file and the operating
/// system's error. The records are kept and retried, never dropped; with
/// `PORTCULLIS_OVERFLOW_BLOCK`, evaluations wait once the queue is full. `out_error` may be NULL;
/// otherwise it is set as for `portcullis_engine_new`. On `PORTCULLIS_ERR_NULL_POINTER` nothing is written.
///
/// Thread-safe: may run concurrently with any call on the same engine but `portcullis_engine_free`.
/// It blocks until the writer thread has written the records queued before the call.
///
/// # Safety
/// `engine` is a live engine; `out_error` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn portcullis_engine_flush_audit(
    engine: *const PortcullisEngine,
    out_error: *mut *mut PortcullisError,
) -> PortcullisStatus {
    // SAFETY: `engine` is NULL or live for this call, `out_error` NULL or writable (caller's
    // guarantee).
    unsafe { on_engine(engine, |engine| Ok(engine.flush_audit()?)).finish(out_error) }
}

/// Writes the engine's audit counters to `*out` (both 0 for an engine without a trail).
///
/// `recorded + dropped` equals the number of decisions made once every record has been
/// written (file sink: after `portcullis_engine_flush_audit`) or drained (memory sink). On
/// `PORTCULLIS_ERR_NULL_POINTER` nothing is written.
///
/// Thread-safe: may run concurrently with any call on the same engine but `portcullis_engine_free`.
///
/// # Safety
/// `engine` is a live engine; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn portcullis_engine_audit_stats(
    engine: *const PortcullisEngine,
    out: *mut PortcullisAuditStats,
) -> PortcullisStatus {
    if out.is_null() {
        return PORTCULLIS_ERR_NULL_POINTER;
    }
    // SAFETY: `engine` is NULL or live for this call, and `out` is writable (caller's
    // guarantee).
    unsafe {
        on_engine(engine, |engine| Ok(engine.audit_stats())).deliver_ok(|stats| {
            out.write(PortcullisAuditStats {
                recorded: stats.recorded,
                dropped: stats.dropped,
            })
        })
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
        let raw = PortcullisAuditOptions::defaults();
        assert_eq!(raw.flush_interval_ms, 200);
        assert_eq!(raw.queue_capacity, 65_536);
        // SAFETY: `raw` is a live struct with a NULL path.
        let options = unsafe { read(&raw) }.unwrap();
        assert_eq!(options, AuditOptions::default());
    }

    #[test]
    fn a_file_sink_reads_every_field() {
        let path = CString::new("/var/log/portcullis/audit.log").unwrap();
        let mut raw = PortcullisAuditOptions::defaults();
        raw.sink = PORTCULLIS_AUDIT_FILE;
        raw.path = path.as_ptr();
        raw.max_bytes = 1 << 20;
        raw.flush_interval_ms = 0;
        raw.queue_capacity = 16;
        raw.overflow = PORTCULLIS_OVERFLOW_DROP;
        raw.fsync = 1;
        // SAFETY: `raw` is a live struct; `path` outlives the call.
        let options = unsafe { read(&raw) }.unwrap();
        let mut file = FileSink::new("/var/log/portcullis/audit.log");
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
        type Change = fn(&mut PortcullisAuditOptions);
        let cases: [(Change, PortcullisStatus, &str); 9] = [
            (
                |o| o.size = 40,
                PORTCULLIS_ERR_OPTIONS_SIZE,
                "audit.size is 40",
            ),
            (
                |o| o.sink = 3,
                PORTCULLIS_ERR_INVALID_ARGUMENT,
                "audit.sink is 3",
            ),
            (
                |o| o.overflow = 2,
                PORTCULLIS_ERR_INVALID_ARGUMENT,
                "audit.overflow is 2",
            ),
            (
                |o| o.fsync = 2,
                PORTCULLIS_ERR_INVALID_ARGUMENT,
                "audit.fsync is 2",
            ),
            (
                |o| o.queue_capacity = (1 << 20) + 1,
                PORTCULLIS_ERR_INVALID_ARGUMENT,
                "audit.queue_capacity is 1048577",
            ),
            (
                |o| o.queue_capacity = u64::MAX,
                PORTCULLIS_ERR_INVALID_ARGUMENT,
                "audit.queue_capacity",
            ),
            (
                |o| o.sink = PORTCULLIS_AUDIT_FILE,
                PORTCULLIS_ERR_INVALID_ARGUMENT,
                "audit.path is NULL",
            ),
            (
                |o| o.sink = PORTCULLIS_AUDIT_FILE | 0x8000_0000,
                PORTCULLIS_ERR_INVALID_ARGUMENT,
                "audit.sink",
            ),
            (
                |o| o.fsync = 255,
                PORTCULLIS_ERR_INVALID_ARGUMENT,
                "audit.fsync",
            ),
        ];
        for (change, status, message) in cases {
            let mut raw = PortcullisAuditOptions::defaults();
            change(&mut raw);
            // SAFETY: `raw` is a live struct with a NULL path.
            let failure = unsafe { read(&raw) }.unwrap_err();
            assert_eq!(failure.status, status, "{message}");
            assert!(failure.message.contains(message), "{}", failure.message);
        }
        for (path, status, message) in [
            (&not_utf8, PORTCULLIS_ERR_INVALID_UTF8, "offset 1"),
            (
                &empty,
                PORTCULLIS_ERR_INVALID_ARGUMENT,
                "audit.path is empty",
            ),
        ] {
            let mut raw = PortcullisAuditOptions::defaults();
            raw.sink = PORTCULLIS_AUDIT_FILE;
            raw.path = path.as_ptr();
            // SAFETY: `raw` is a live struct; `path` outlives the call.
            let failure = unsafe { read(&raw) }.unwrap_err();
            assert_eq!(failure.status, status);
            assert!(failure.message.contains(message), "{}", failure.message);
        }
    }

    #[test]
    fn the_path_is_ignored_without_a_file_sink() {
        let mut raw = PortcullisAuditOptions::defaults();
        raw.sink = PORTCULLIS_AUDIT_MEMORY;
        raw.fsync = 1;
        // SAFETY: `raw` is a live struct with a NULL path.
        let options = unsafe { read(&raw) }.unwrap();
        assert_eq!(options.sink, AuditSink::Memory);
    }
}

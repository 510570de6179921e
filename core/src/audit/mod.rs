//! The audit trail: every decision becomes a JSON line in a tamper-evident hash chain.
//!
//! `evaluate` only enqueues a record on a bounded queue. A background writer (file sink) or
//! the host's drain call (memory sink) assigns the gap-free sequence number, links the record
//! to the previous one (`prev`) and seals it (`hash` = SHA-256 of the record's RFC 8785 form
//! without `hash`). When the queue is full, `Overflow::Block` waits (nothing is lost) and
//! `Overflow::Drop` counts the record as dropped; the count is itself written to the trail.
//!
//! Modules: [`record`] (record shapes and the chain), [`queue`] (the engine side),
//! [`writer`] (the file writer), [`files`] (opening, locking, reopening and rotating trail
//! files), [`verify`] (the verifier) and [`checkpoint`] (keyed anchors for a chain's head).
use std::path::PathBuf;

mod checkpoint;
mod error;
mod files;
mod queue;
mod record;
mod verify;
mod writer;

pub use checkpoint::{Checkpoint, CheckpointError};
pub use error::AuditError;
pub use files::trail_files;
pub(crate) use queue::Audit;
pub(crate) use record::Subject;
pub use verify::{verify_files, VerifyFailure, VerifyReport};

/// The `prev` of the first record of a trail.
pub const GENESIS: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000000";

/// The largest audit queue accepted (the queue is allocated up front).
pub const MAX_QUEUE_CAPACITY: usize = 1 << 20;

/// Where audit records go.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum AuditSink {
    /// No audit trail (the default).
    #[default]
    None,
    /// An append-only file written by a background thread.
    File(FileSink),
    /// An in-memory queue the host drains with [`crate::Engine::drain_audit`].
    Memory,
}

/// A file sink's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSink {
    /// The trail file; rotated files are renamed `PATH.000001`, `PATH.000002`, ... (always
    /// one more than the highest number present, so numbers are never reused). The engine
    /// holds an exclusive lock on the current file while it runs. A symbolic link at `PATH`
    /// is refused.
    pub path: PathBuf,
    /// Rotate once the file holds at least this many bytes (0: never rotate).
    pub max_bytes: u64,
    /// Flush buffered records at least this often, in milliseconds.
    pub flush_interval_ms: u64,
    /// `fsync` the file after every batch written.
    pub fsync: bool,
    /// Permission bits of trail files the engine creates (default `0o600`; unix only).
    pub mode: u32,
}

impl FileSink {
    /// A sink writing to `path`, flushing every 200 ms, without rotation or fsync, creating
    /// files readable and writable by their owner only.
    pub fn new(path: impl Into<PathBuf>) -> FileSink {
        FileSink {
            path: path.into(),
            max_bytes: 0,
            flush_interval_ms: 200,
            fsync: false,
            mode: 0o600,
        }
    }
}

/// What `evaluate` does when the audit queue is full.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Overflow {
    /// Wait for room: no record is ever lost (the default). While the trail cannot be written
    /// (a full disk), the writer keeps the records it holds, retries, and takes no more, so
    /// `evaluate` waits once the queue is full and resumes when the trail can be written.
    #[default]
    Block,
    /// Never wait: the record is dropped and counted, and the count is written to the trail.
    Drop,
}

/// Audit settings, fixed when the engine is created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditOptions {
    /// Where records go.
    pub sink: AuditSink,
    /// Records the queue holds before `overflow` applies (at most [`MAX_QUEUE_CAPACITY`]).
    pub queue_capacity: usize,
    /// What happens when the queue is full.
    pub overflow: Overflow,
}

impl Default for AuditOptions {
    fn default() -> Self {
        AuditOptions {
            sink: AuditSink::None,
            queue_capacity: 65_536,
            overflow: Overflow::Block,
        }
    }
}

/// Audit counters. `dropped` and `recovered` records are stamped with the system clock (the
/// writer has no engine clock); decision records carry the engine clock's time of the decision.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AuditStats {
    /// Decision records written to the file or handed out by `drain_audit`.
    pub recorded: u64,
    /// Decision records dropped because the queue was full (`Overflow::Drop`).
    pub dropped: u64,
    /// Decision records accepted into the trail but not written yet (queued, or held by the
    /// writer while the file cannot be written).
    pub unwritten: u64,
}

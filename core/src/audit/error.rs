//! Why the trail cannot be opened or written, carried by the engine's public errors
//! (`EngineError::Audit`, `CreateError::Audit`); each names the file and the operating system's
//! error.
use std::io;

/// An audit trail failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// An operating-system call on a trail file failed; `doing` says what was attempted.
    #[error("cannot {doing}: {cause}")]
    Io {
        /// What was attempted ("open /var/log/trail.jsonl", "write ...").
        doing: String,
        /// The operating system's error.
        cause: String,
    },
    /// Another engine holds the file's lock.
    #[error("audit file {0} is in use by another engine (it is locked)")]
    Locked(String),
    /// The last record of a file cannot continue the chain.
    #[error("the last record of {file} {problem}")]
    BadHead {
        /// The file.
        file: String,
        /// What is wrong with its last record.
        problem: String,
    },
    /// A non-empty file without one complete record (`kind`: "audit file" or "rotated audit
    /// file").
    #[error("{kind} {file} holds no complete record")]
    NoRecord {
        /// "audit file" or "rotated audit file".
        kind: &'static str,
        /// The file.
        file: String,
    },
    /// A batch could not be written; `unwritten` records wait for the retry.
    #[error("{unwritten} records not written: cannot write {file}: {cause}")]
    Unwritten {
        /// Records accepted and not yet written.
        unwritten: u64,
        /// The file.
        file: String,
        /// The operating system's error.
        cause: String,
    },
    /// The writer thread is gone.
    #[error("the audit writer has stopped")]
    WriterStopped,
    /// The writer thread panicked.
    #[error("audit trail {0}: the writer failed")]
    WriterFailed(String),
    /// The engine stopped while records could still not be written.
    #[error(
        "audit trail {path}: {count} accepted records could not be written and are lost: {cause}"
    )]
    Lost {
        /// The trail's file.
        path: String,
        /// Records accepted and never written.
        count: u64,
        /// Why the last write failed.
        cause: Box<AuditError>,
    },
    /// The writer thread cannot be started.
    #[error("cannot start the audit writer: {0}")]
    Spawn(String),
    /// The queue capacity is out of range.
    #[error("{0}")]
    Options(String),
}

impl AuditError {
    /// Maps an I/O error to "cannot `doing`: the error".
    pub(crate) fn io(doing: impl Into<String>) -> impl FnOnce(io::Error) -> AuditError {
        let doing = doing.into();
        move |e| AuditError::Io {
            doing,
            cause: e.to_string(),
        }
    }
}

//! Why the trail cannot be opened or written. The engine's public errors carry the message
//! (`EngineError::Audit`, `CreateError::Audit`): it names the file and the operating system's
//! error.
use std::io;

/// An audit trail failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum TrailError {
    /// An operating-system call on a trail file failed; `doing` says what was attempted.
    #[error("cannot {doing}: {cause}")]
    Io { doing: String, cause: String },
    /// Another engine holds the file's lock.
    #[error("audit file {0} is in use by another engine (it is locked)")]
    Locked(String),
    /// The last record of a file cannot continue the chain.
    #[error("the last record of {file} {problem}")]
    BadHead { file: String, problem: String },
    /// A non-empty file without one complete record (`kind`: "audit file" or "rotated audit
    /// file").
    #[error("{kind} {file} holds no complete record")]
    NoRecord { kind: &'static str, file: String },
    /// A batch could not be written; `unwritten` records wait for the retry.
    #[error("{unwritten} records not written: cannot write {file}: {cause}")]
    Unwritten {
        unwritten: u64,
        file: String,
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
        path: String,
        count: u64,
        cause: Box<TrailError>,
    },
    /// The writer thread cannot be started.
    #[error("cannot start the audit writer: {0}")]
    Spawn(String),
    /// The queue capacity is out of range.
    #[error("{0}")]
    Options(String),
}

impl TrailError {
    /// Maps an I/O error to "cannot `doing`: the error".
    pub(crate) fn io(doing: impl Into<String>) -> impl FnOnce(io::Error) -> TrailError {
        let doing = doing.into();
        move |e| TrailError::Io {
            doing,
            cause: e.to_string(),
        }
    }
}

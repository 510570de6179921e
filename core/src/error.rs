//! Error types of the public API.
use std::fmt;

/// A policy document that cannot be loaded: the first error in document order.
///
/// `path` names the offending value in dotted form with bracketed indexes
/// (`rules[3].when.all[1].matches`); for unknown, missing or duplicate keys it names the object
/// that holds them (`""` is the document root). `message` quotes the offending key or value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct PolicyError {
    pub(crate) path: String,
    pub(crate) message: String,
}

impl PolicyError {
    /// An error at `path` (dotted form) saying `message`.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        PolicyError {
            path: path.into(),
            message: message.into(),
        }
    }

    /// Where the error is, in dotted form (`""` for the document root).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// What is wrong, quoting the offending key or value.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "policy: {}", self.message)
        } else {
            write!(f, "policy at {}: {}", self.path, self.message)
        }
    }
}

/// An engine call that cannot be carried out (never returned for a bad action given to
/// `evaluate`, which denies it instead).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    /// `set_time` was called on an engine that reads the system clock.
    #[error("the engine uses the system clock; only a manual clock can be set")]
    SystemClock,
    /// An argument is out of range or malformed (`ttl_ms` 0, `uses` 0, a malformed hash...).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The action given to `approve` is not a valid action.
    #[error("invalid action: {0}")]
    InvalidAction(String),
    /// The audit trail cannot be written.
    #[error("audit trail: {0}")]
    Audit(crate::AuditError),
    /// The shared state did not store the grant (unreachable, or no answer in time).
    #[error("shared state: {0}")]
    Unavailable(String),
}

/// An engine that cannot be created: a bad policy, or an audit trail that cannot be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CreateError {
    /// The policy does not load.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// The audit sink cannot be opened (the error names the file and the OS error).
    #[error("audit trail: {0}")]
    Audit(crate::AuditError),
}

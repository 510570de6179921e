//! The panic boundary: every export runs the safe core through [`guarded`].
use std::any::Any;
use std::panic::{self, AssertUnwindSafe};

use portcullis::{CreateError, EngineError, PolicyError};

use crate::status::{
    PortcullisStatus, PORTCULLIS_ERR_AUDIT, PORTCULLIS_ERR_CLOCK, PORTCULLIS_ERR_INVALID_ACTION,
    PORTCULLIS_ERR_INVALID_ARGUMENT, PORTCULLIS_ERR_PANIC, PORTCULLIS_ERR_POLICY,
    PORTCULLIS_ERR_UNAVAILABLE,
};

/// Why a call failed: a status code with the details a `portcullis_error` carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failure {
    pub(crate) status: PortcullisStatus,
    pub(crate) path: String,
    pub(crate) message: String,
}

impl Failure {
    /// A failure with no location in a document.
    pub(crate) fn new(status: PortcullisStatus, message: impl Into<String>) -> Self {
        Failure {
            status,
            path: String::new(),
            message: message.into(),
        }
    }

    fn panic(payload: &(dyn Any + Send)) -> Self {
        let detail = if let Some(text) = payload.downcast_ref::<&str>() {
            text
        } else if let Some(text) = payload.downcast_ref::<String>() {
            text.as_str()
        } else {
            "no message"
        };
        Failure::new(
            PORTCULLIS_ERR_PANIC,
            format!("portcullis panicked during this call: {detail}"),
        )
    }
}

impl From<PolicyError> for Failure {
    fn from(err: PolicyError) -> Self {
        Failure {
            status: PORTCULLIS_ERR_POLICY,
            path: err.path().to_owned(),
            message: err.message().to_owned(),
        }
    }
}

impl From<EngineError> for Failure {
    fn from(err: EngineError) -> Self {
        let status = match &err {
            EngineError::SystemClock => PORTCULLIS_ERR_CLOCK,
            EngineError::InvalidArgument(_) => PORTCULLIS_ERR_INVALID_ARGUMENT,
            EngineError::InvalidAction(_) => PORTCULLIS_ERR_INVALID_ACTION,
            EngineError::Audit(_) => PORTCULLIS_ERR_AUDIT,
            // The shared state (options.state_url) did not answer: approving can be retried.
            EngineError::Unavailable(_) => PORTCULLIS_ERR_UNAVAILABLE,
        };
        Failure::new(status, err.to_string())
    }
}

impl From<CreateError> for Failure {
    fn from(err: CreateError) -> Self {
        match err {
            CreateError::Policy(policy) => Failure::from(policy),
            audit @ CreateError::Audit(_) => Failure::new(PORTCULLIS_ERR_AUDIT, audit.to_string()),
        }
    }
}

/// Runs `call`, turning a panic into a `PORTCULLIS_ERR_PANIC` failure for this call only.
///
/// No panic hook is installed or swapped and no global state is poisoned: the default hook
/// still reports the panic on stderr, and later calls run normally.
pub(crate) fn guarded<T>(call: impl FnOnce() -> Result<T, Failure>) -> Result<T, Failure> {
    // The engine keeps its own invariants across a panic (its state changes are atomic or
    // behind locks that recover), so observing it after an unwind is sound.
    match panic::catch_unwind(AssertUnwindSafe(call)) {
        Ok(result) => result,
        Err(payload) => Err(Failure::panic(payload.as_ref())),
    }
}

/// Runs a call that returns nothing (the `_free` functions), swallowing a panic: there is no
/// status to report it through, and unwinding into C would abort the process.
pub(crate) fn guarded_void(call: impl FnOnce()) {
    let _ignored = panic::catch_unwind(AssertUnwindSafe(call));
}

#[cfg(test)]
mod tests {
    use super::*;
    use portcullis::AuditError;

    #[test]
    fn a_panic_becomes_ag_err_panic_with_its_message() {
        let result: Result<(), Failure> = guarded(|| panic!("boom"));
        let failure = result.unwrap_err();
        assert_eq!(failure.status, PORTCULLIS_ERR_PANIC);
        assert_eq!(failure.path, "");
        assert_eq!(
            failure.message,
            "portcullis panicked during this call: boom"
        );
    }

    #[test]
    fn a_formatted_panic_message_is_kept() {
        let n = 3;
        let result: Result<(), Failure> = guarded(|| panic!("bad {n}"));
        assert_eq!(
            result.unwrap_err().message,
            "portcullis panicked during this call: bad 3"
        );
    }

    #[test]
    fn calls_after_a_panic_run_normally() {
        let _ = guarded::<()>(|| panic!("first"));
        assert_eq!(guarded(|| Ok::<_, Failure>(42)).unwrap(), 42);
    }

    #[test]
    fn a_panic_in_a_void_call_is_contained() {
        guarded_void(|| panic!("in free"));
    }

    #[test]
    fn engine_errors_map_to_their_statuses() {
        let cases = [
            (EngineError::SystemClock, PORTCULLIS_ERR_CLOCK),
            (
                EngineError::InvalidArgument("ttl_ms must be at least 1".into()),
                PORTCULLIS_ERR_INVALID_ARGUMENT,
            ),
            (
                EngineError::InvalidAction("missing \"tool\"".into()),
                PORTCULLIS_ERR_INVALID_ACTION,
            ),
            (
                EngineError::Audit(AuditError::Io {
                    doing: "write /var/log/a".into(),
                    cause: "disk full".into(),
                }),
                PORTCULLIS_ERR_AUDIT,
            ),
            (
                EngineError::Unavailable("redis://127.0.0.1:1: connection refused".into()),
                PORTCULLIS_ERR_UNAVAILABLE,
            ),
        ];
        for (err, status) in cases {
            let message = err.to_string();
            let failure = Failure::from(err);
            assert_eq!(failure.status, status);
            assert_eq!(failure.path, "");
            assert_eq!(failure.message, message);
        }
    }

    #[test]
    fn create_errors_map_to_policy_or_audit() {
        let failure = Failure::from(CreateError::Audit(AuditError::Io {
            doing: "open audit file /x/a.log".into(),
            cause: "No such file or directory".into(),
        }));
        assert_eq!(failure.status, PORTCULLIS_ERR_AUDIT);
        assert_eq!(failure.path, "");
        assert_eq!(
            failure.message,
            "audit trail: cannot open audit file /x/a.log: No such file or directory"
        );
        let failure = Failure::from(CreateError::Policy(PolicyError::new(
            "audit.include_params[0]",
            "bad",
        )));
        assert_eq!(failure.status, PORTCULLIS_ERR_POLICY);
        assert_eq!(failure.path, "audit.include_params[0]");
    }

    #[test]
    fn policy_errors_keep_path_and_message() {
        let failure = Failure::from(PolicyError::new(
            "rules[0].when",
            "unknown operator \"equals\"",
        ));
        assert_eq!(failure.status, PORTCULLIS_ERR_POLICY);
        assert_eq!(failure.path, "rules[0].when");
        assert_eq!(failure.message, "unknown operator \"equals\"");
    }
}

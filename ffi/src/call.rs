//! The preamble and epilogue every export shares, so that an export's body is only its logic.
//!
//! An export on an engine handle checks its own out-parameters, then runs its logic through
//! [`on_engine`] or [`on_input`] (NULL checks, borrowing the engine, the caller's input bytes,
//! the panic guard) and reports the [`Outcome`] the way its contract says: through
//! `out_error` ([`Outcome::finish`]), or by writing a value, or a fail-closed fallback, to an
//! out-parameter. Handles are released with [`release`].
use portcullis::Engine;

use crate::engine::{engine_ref, PortcullisEngine};
use crate::error::{finish, PortcullisError};
use crate::guard::{guarded, guarded_void, Failure};
use crate::input;
use crate::status::{PortcullisStatus, PORTCULLIS_ERR_NULL_POINTER, PORTCULLIS_OK};

/// What one call came to: `None` when a required pointer was NULL and nothing ran, else the
/// guarded result of its logic.
#[must_use]
pub(crate) struct Outcome<T>(Option<Result<T, Failure>>);

/// Runs `body` inside the panic guard. Arguments the caller gave are checked by the export.
pub(crate) fn run<T>(body: impl FnOnce() -> Result<T, Failure>) -> Outcome<T> {
    Outcome(Some(guarded(body)))
}

/// Runs `body` on the engine behind `engine`, inside the panic guard; nothing runs when
/// `engine` is NULL.
///
/// # Safety
/// `engine` is NULL or a live engine that is not freed during the call.
pub(crate) unsafe fn on_engine<T>(
    engine: *const PortcullisEngine,
    body: impl FnOnce(&Engine) -> Result<T, Failure>,
) -> Outcome<T> {
    if engine.is_null() {
        return Outcome(None);
    }
    // SAFETY: `engine` is non-NULL and live for this call (caller's guarantee).
    let engine = unsafe { engine_ref(engine) };
    run(|| body(engine))
}

/// Runs `body` on the engine behind `engine` and the caller's `len` bytes at `data` (named
/// `what` in errors), inside the panic guard; nothing runs when either pointer is NULL.
///
/// # Safety
/// `engine` is NULL or a live engine that is not freed during the call; `data` is NULL or
/// readable for `len` bytes that no one writes during the call.
pub(crate) unsafe fn on_input<T>(
    engine: *const PortcullisEngine,
    data: *const u8,
    len: usize,
    what: &str,
    body: impl FnOnce(&Engine, &[u8]) -> Result<T, Failure>,
) -> Outcome<T> {
    if data.is_null() {
        return Outcome(None);
    }
    let with_bytes = |engine: &Engine| {
        // SAFETY: `data` is non-NULL and readable for `len` bytes (caller's guarantee).
        let bytes = unsafe { input::bytes(data, len, what) }?;
        body(engine, bytes)
    };
    // SAFETY: `engine` is NULL or live for this call (caller's guarantee).
    unsafe { on_engine(engine, with_bytes) }
}

impl<T> Outcome<T> {
    /// The value to write and the status to return: `fallback` when the call failed or did
    /// not run, so a caller that ignores the status still fails closed.
    pub(crate) fn value_or(self, fallback: T) -> (T, PortcullisStatus) {
        match self.0 {
            None => (fallback, PORTCULLIS_ERR_NULL_POINTER),
            Some(Ok(value)) => (value, PORTCULLIS_OK),
            Some(Err(failure)) => (fallback, failure.status),
        }
    }

    /// Hands the value (`fallback` on failure) to `write` and returns the status; writes
    /// nothing when the call did not run.
    pub(crate) fn deliver(self, fallback: T, write: impl FnOnce(T)) -> PortcullisStatus {
        match self.0 {
            None => PORTCULLIS_ERR_NULL_POINTER,
            Some(result) => {
                let (value, status) = Outcome(Some(result)).value_or(fallback);
                write(value);
                status
            }
        }
    }

    /// Hands the value to `write` on success only and returns the status.
    pub(crate) fn deliver_ok(self, write: impl FnOnce(T)) -> PortcullisStatus {
        match self.0 {
            None => PORTCULLIS_ERR_NULL_POINTER,
            Some(Ok(value)) => {
                write(value);
                PORTCULLIS_OK
            }
            Some(Err(failure)) => failure.status,
        }
    }

    /// Hands the value (`fallback` on failure) to `write`, then reports the outcome through
    /// `out_error` as [`Outcome::finish`] does.
    ///
    /// # Safety
    /// `out_error` is NULL or valid for a pointer-sized write.
    pub(crate) unsafe fn finish_with(
        self,
        fallback: T,
        write: impl FnOnce(T),
        out_error: *mut *mut PortcullisError,
    ) -> PortcullisStatus {
        let outcome = match self.0 {
            None => return PORTCULLIS_ERR_NULL_POINTER,
            Some(Ok(value)) => {
                write(value);
                Ok(())
            }
            Some(Err(failure)) => {
                write(fallback);
                Err(failure)
            }
        };
        // SAFETY: `out_error` is NULL or writable (caller's guarantee).
        unsafe { finish(outcome, out_error) }
    }
}

impl Outcome<()> {
    /// Reports the outcome through `out_error` (NULL on success, a new `portcullis_error` on
    /// failure) and returns its status; writes nothing when the call did not run.
    ///
    /// # Safety
    /// `out_error` is NULL or valid for a pointer-sized write.
    pub(crate) unsafe fn finish(self, out_error: *mut *mut PortcullisError) -> PortcullisStatus {
        // SAFETY: `out_error` is NULL or writable (caller's guarantee).
        unsafe { self.finish_with((), drop, out_error) }
    }
}

/// Releases a handle the library boxed for the caller; NULL is ignored, and a panic while
/// dropping is contained (there is no status to report it through).
///
/// # Safety
/// `handle` is NULL or came from `Box::into_raw` in this library, is released only once, and
/// no other call uses it any more.
pub(crate) unsafe fn release<T>(handle: *mut T) {
    if handle.is_null() {
        return;
    }
    guarded_void(|| {
        // SAFETY: `handle` came from `Box::into_raw` and is released only once (caller's
        // guarantee).
        drop(unsafe { Box::from_raw(handle) });
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::{PORTCULLIS_ERR_INVALID_ARGUMENT, PORTCULLIS_ERR_PANIC};
    use std::ptr;

    #[test]
    fn a_null_engine_runs_nothing_and_writes_nothing() {
        // SAFETY: a NULL engine is allowed.
        let outcome = unsafe { on_engine(ptr::null(), |_| -> Result<u8, Failure> { panic!() }) };
        let mut written = None;
        assert_eq!(
            outcome.deliver(0, |value| written = Some(value)),
            PORTCULLIS_ERR_NULL_POINTER
        );
        assert_eq!(written, None);
    }

    #[test]
    fn a_failure_writes_the_fallback() {
        let outcome = run(|| -> Result<u8, Failure> {
            Err(Failure::new(PORTCULLIS_ERR_INVALID_ARGUMENT, "no"))
        });
        let mut written = None;
        assert_eq!(
            outcome.deliver(7, |value| written = Some(value)),
            PORTCULLIS_ERR_INVALID_ARGUMENT
        );
        assert_eq!(written, Some(7));
    }

    #[test]
    fn a_panic_writes_nothing_through_deliver_ok() {
        let mut written = None;
        let status = run(|| -> Result<u8, Failure> { panic!("boom") })
            .deliver_ok(|value| written = Some(value));
        assert_eq!(status, PORTCULLIS_ERR_PANIC);
        assert_eq!(written, None);
    }

    #[test]
    fn a_null_input_is_a_null_pointer_with_the_fallback() {
        // SAFETY: NULL pointers are allowed.
        let outcome = unsafe { on_input(ptr::null(), ptr::null(), 3, "action", |_, _| Ok(1)) };
        assert_eq!(outcome.value_or(0), (0, PORTCULLIS_ERR_NULL_POINTER));
    }
}

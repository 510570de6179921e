//! `portcullis_error`: the owned error details of a failed call.
use std::ffi::{c_char, CString};
use std::ptr;

use crate::call;
use crate::guard::Failure;
use crate::status::{PortcullisStatus, PORTCULLIS_ERR_NULL_POINTER, PORTCULLIS_OK};

/// Details of a failed call: its status, a path into the policy document (for
/// `PORTCULLIS_ERR_POLICY`; "" otherwise) and a message a person can act on.
///
/// Opaque. A function that returns one through a `portcullis_error **out_error` hands ownership to
/// the caller, who releases it with `portcullis_error_free`. A `portcullis_error` is immutable: reading it
/// from several threads at once is safe.
pub struct PortcullisError {
    status: PortcullisStatus,
    path: CString,
    message: CString,
}

impl PortcullisError {
    fn from_failure(failure: Failure) -> Self {
        PortcullisError {
            status: failure.status,
            path: c_text(failure.path),
            message: c_text(failure.message),
        }
    }
}

/// Makes a C string of `text`, writing an interior NUL (possible when a message quotes a key
/// of the document) as the escape `\u0000` so that nothing after it is lost.
fn c_text(text: String) -> CString {
    CString::new(text).unwrap_or_else(|err| {
        let escaped = String::from_utf8_lossy(&err.into_vec()).replace('\0', "\\u0000");
        CString::new(escaped).unwrap_or_default()
    })
}

/// Writes the outcome of a call to `out_error` (when not NULL) and returns its status: on
/// success `*out_error` becomes NULL, on failure a new `portcullis_error` the caller owns.
///
/// # Safety
/// `out_error` is NULL or valid for a pointer-sized write.
pub(crate) unsafe fn finish(
    outcome: Result<(), Failure>,
    out_error: *mut *mut PortcullisError,
) -> PortcullisStatus {
    let (status, error) = match outcome {
        Ok(()) => (PORTCULLIS_OK, ptr::null_mut()),
        Err(failure) => (
            failure.status,
            Box::into_raw(Box::new(PortcullisError::from_failure(failure))),
        ),
    };
    if !out_error.is_null() {
        // SAFETY: the caller guarantees a non-NULL `out_error` is valid for writes.
        unsafe { out_error.write(error) };
    } else if !error.is_null() {
        // SAFETY: `error` came from `Box::into_raw` just above and was handed to no one.
        drop(unsafe { Box::from_raw(error) });
    }
    status
}

/// Returns the status of the call that produced `err`, or `PORTCULLIS_ERR_NULL_POINTER` when `err` is
/// NULL.
///
/// Thread-safe.
///
/// # Safety
/// `err` is NULL or a `portcullis_error` not yet freed.
#[no_mangle]
pub unsafe extern "C" fn portcullis_error_status(err: *const PortcullisError) -> PortcullisStatus {
    // SAFETY: the caller guarantees `err` is NULL or a live `portcullis_error`, which is never
    // mutated.
    unsafe { err.as_ref() }.map_or(PORTCULLIS_ERR_NULL_POINTER, |err| err.status)
}

/// Returns where the error is in the policy document, in dotted form with bracketed indexes
/// (`rules[0].when`); "" for the document root and for errors that are not about a
/// document. Returns "" when `err` is NULL.
///
/// Ownership: the NUL-terminated UTF-8 string belongs to `err` and stays valid until
/// `portcullis_error_free(err)`. Thread-safe.
///
/// # Safety
/// `err` is NULL or a `portcullis_error` not yet freed.
#[no_mangle]
pub unsafe extern "C" fn portcullis_error_path(err: *const PortcullisError) -> *const c_char {
    // SAFETY: the caller guarantees `err` is NULL or a live `portcullis_error`, which is never
    // mutated.
    unsafe { err.as_ref() }.map_or(c"".as_ptr(), |err| err.path.as_ptr())
}

/// Returns what went wrong, quoting the offending key or value. Returns "" when `err` is
/// NULL.
///
/// Ownership: the NUL-terminated UTF-8 string belongs to `err` and stays valid until
/// `portcullis_error_free(err)`. Thread-safe.
///
/// # Safety
/// `err` is NULL or a `portcullis_error` not yet freed.
#[no_mangle]
pub unsafe extern "C" fn portcullis_error_message(err: *const PortcullisError) -> *const c_char {
    // SAFETY: the caller guarantees `err` is NULL or a live `portcullis_error`, which is never
    // mutated.
    unsafe { err.as_ref() }.map_or(c"".as_ptr(), |err| err.message.as_ptr())
}

/// Releases an error and the strings it owns. NULL is accepted and ignored.
///
/// Not thread-safe with respect to `err`: no other call may use `err` during or after this
/// one.
///
/// # Safety
/// `err` is NULL or a `portcullis_error` returned by this library and not yet freed.
#[no_mangle]
pub unsafe extern "C" fn portcullis_error_free(err: *mut PortcullisError) {
    // SAFETY: the caller guarantees `err` is NULL or came from `Box::into_raw` in `finish`,
    // and is freed only once.
    unsafe { call::release(err) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guard::guarded;
    use crate::status::PORTCULLIS_ERR_PANIC;
    use std::ffi::CStr;

    #[test]
    fn a_panic_comes_back_as_an_owned_error() {
        let mut err: *mut PortcullisError = ptr::null_mut();
        // SAFETY: `err` is a writable out-parameter.
        let status = unsafe { finish(guarded(|| panic!("boom")), &mut err) };
        assert_eq!(status, PORTCULLIS_ERR_PANIC);
        assert!(!err.is_null());
        // SAFETY: `err` is the live error `finish` just returned; it is freed once, below.
        unsafe {
            assert_eq!(portcullis_error_status(err), PORTCULLIS_ERR_PANIC);
            assert_eq!(
                CStr::from_ptr(portcullis_error_path(err)).to_str().unwrap(),
                ""
            );
            assert_eq!(
                CStr::from_ptr(portcullis_error_message(err))
                    .to_str()
                    .unwrap(),
                "portcullis panicked during this call: boom"
            );
            portcullis_error_free(err);
        }
    }

    #[test]
    fn success_clears_the_out_error() {
        let mut err: *mut PortcullisError = ptr::NonNull::dangling().as_ptr();
        // SAFETY: `err` is a writable out-parameter; its old value is never read.
        let status = unsafe { finish(Ok(()), &mut err) };
        assert_eq!(status, PORTCULLIS_OK);
        assert!(err.is_null());
    }

    #[test]
    fn interior_nul_is_escaped_not_truncated() {
        assert_eq!(
            c_text("key \"a\0b\" is unknown".into()).to_str().unwrap(),
            "key \"a\\u0000b\" is unknown"
        );
    }
}

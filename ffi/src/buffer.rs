//! `portcullis_buffer`: owned bytes handed to the caller (decision JSON, action hashes).
use std::ptr;

use crate::call;

/// A byte string the library hands to the caller: UTF-8 text, not NUL-terminated.
///
/// Opaque. A function that returns one through a `portcullis_buffer **` hands ownership to the
/// caller, who releases it with `portcullis_buffer_free`. A `portcullis_buffer` is immutable: reading it
/// from several threads at once is safe.
pub struct PortcullisBuffer {
    bytes: Box<[u8]>,
}

impl PortcullisBuffer {
    /// Moves `text` into a new buffer owned by the caller.
    pub(crate) fn into_raw(text: String) -> *mut PortcullisBuffer {
        Box::into_raw(Box::new(PortcullisBuffer {
            bytes: text.into_bytes().into_boxed_slice(),
        }))
    }
}

/// Returns the first byte of the buffer (never NULL for a live buffer, even when empty), or
/// NULL when `buf` is NULL.
///
/// Ownership: the bytes belong to `buf` and stay valid until `portcullis_buffer_free(buf)`.
/// Thread-safe.
///
/// # Safety
/// `buf` is NULL or a `portcullis_buffer` not yet freed.
#[no_mangle]
pub unsafe extern "C" fn portcullis_buffer_data(buf: *const PortcullisBuffer) -> *const u8 {
    // SAFETY: the caller guarantees `buf` is NULL or a live `portcullis_buffer`, which is never
    // mutated.
    unsafe { buf.as_ref() }.map_or(ptr::null(), |buf| buf.bytes.as_ptr())
}

/// Returns the length of the buffer in bytes, or 0 when `buf` is NULL. Thread-safe.
///
/// # Safety
/// `buf` is NULL or a `portcullis_buffer` not yet freed.
#[no_mangle]
pub unsafe extern "C" fn portcullis_buffer_len(buf: *const PortcullisBuffer) -> usize {
    // SAFETY: the caller guarantees `buf` is NULL or a live `portcullis_buffer`, which is never
    // mutated.
    unsafe { buf.as_ref() }.map_or(0, |buf| buf.bytes.len())
}

/// Releases a buffer. NULL is accepted and ignored.
///
/// Not thread-safe with respect to `buf`: no other call may use `buf` during or after this
/// one.
///
/// # Safety
/// `buf` is NULL or a `portcullis_buffer` returned by this library and not yet freed.
#[no_mangle]
pub unsafe extern "C" fn portcullis_buffer_free(buf: *mut PortcullisBuffer) {
    // SAFETY: the caller guarantees `buf` is NULL or came from `PortcullisBuffer::into_raw`,
    // and is freed only once.
    unsafe { call::release(buf) }
}
